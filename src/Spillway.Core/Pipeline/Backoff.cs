namespace Spillway.Pipeline;

/// <summary>
/// Exponential backoff with jitter: the cap doubles from the initial delay up to the maximum, and each delay is
/// drawn from the upper half of it, so retries neither hammer a struggling database nor march in lockstep.
/// Pure: the random source is injected, and waiting is the caller's business (on a <see cref="TimeProvider"/>).
/// </summary>
public sealed class Backoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private readonly Random _random;

    /// <summary>Creates a backoff.</summary>
    /// <param name="initial">The cap of the first delay.</param>
    /// <param name="max">The largest cap.</param>
    /// <param name="random">The jitter source; a seeded one makes the delays repeatable.</param>
    public Backoff(TimeSpan initial, TimeSpan max, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        _initial = initial;
        _max = max;
        _random = random ?? Random.Shared;
    }

    /// <summary>The delay before retry number <paramref name="attempt"/> (1 for the first retry).</summary>
    public TimeSpan Delay(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var cap = _max;
        if (attempt <= 62)
        {
            var ticks = _initial.Ticks * (double)(1L << (attempt - 1));
            if (ticks < _max.Ticks)
            {
                cap = TimeSpan.FromTicks((long)ticks);
            }
        }

        return cap / 2 + cap / 2 * _random.NextDouble();
    }
}
