using Microsoft.Extensions.Time.Testing;
using Spillway.Diagnostics;

namespace Spillway.Core.Tests;

public sealed class LogPacerTests
{
    [Fact]
    public void The_first_is_said_at_once_then_none_within_the_interval_and_a_reset_lets_the_next_through()
    {
        var time = new FakeTimeProvider();
        var pacer = new LogPacer(time);
        Assert.True(pacer.Due());
        Assert.False(pacer.Due());
        time.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromMilliseconds(1));
        Assert.False(pacer.Due());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(pacer.Due());
        pacer.Reset();
        Assert.True(pacer.Due());
    }
}
