using Microsoft.Extensions.Time.Testing;
using Spillway.Pipeline;

namespace Spillway.Core.Tests;

public sealed class ListenerStatusTests
{
    [Fact]
    public void A_failing_listener_keeps_when_it_began_failing_until_it_recovers()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var tracker = new ListenerStatusTracker(time);
        Assert.Equal(new ListenerStatus(ListenerState.Starting, null, null), tracker.Current);

        tracker.OnListening();
        tracker.OnSuccess();
        Assert.Equal(ListenerState.Listening, tracker.Current.State);

        var began = time.GetUtcNow();
        tracker.OnFailure(new IOException("too many open files"));
        time.Advance(TimeSpan.FromSeconds(3));
        tracker.OnFailure(new IOException("still too many"));
        Assert.Equal(new ListenerStatus(ListenerState.Failing, began, "still too many"), tracker.Current);

        tracker.OnSuccess();
        Assert.Equal(new ListenerStatus(ListenerState.Listening, null, "still too many"), tracker.Current); // the last error stays visible

        tracker.OnStopped();
        Assert.Equal(ListenerState.Stopped, tracker.Current.State);
    }
}
