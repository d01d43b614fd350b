using Spillway.Pipeline;

namespace Spillway.Core.Tests;

public sealed class BackoffTests
{
    [Fact]
    public void Delays_double_from_the_initial_cap_and_stay_within_the_upper_half_of_it()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), new Random(1));
        for (var attempt = 1; attempt <= 100; attempt++)
        {
            var cap = Math.Min(100 * Math.Pow(2, attempt - 1), 30_000);
            var delay = backoff.Delay(attempt).TotalMilliseconds;
            Assert.InRange(delay, cap / 2, cap);
        }
    }

    [Fact]
    public void Delays_are_jittered_so_retries_do_not_march_in_lockstep()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), new Random(7));
        var delays = Enumerable.Range(0, 50).Select(_ => backoff.Delay(5)).Distinct().Count();
        Assert.True(delays > 40, $"only {delays} distinct delays in 50");
    }

    [Fact]
    public void Attempt_numbers_start_at_one()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => backoff.Delay(0));
    }
}
