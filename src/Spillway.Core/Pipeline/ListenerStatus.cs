namespace Spillway.Pipeline;

/// <summary>What a listener is doing.</summary>
public enum ListenerState
{
    /// <summary>Not started yet.</summary>
    Starting,

    /// <summary>Bound and taking input.</summary>
    Listening,

    /// <summary>Bound, but accepting or receiving fails; retried with backoff.</summary>
    Failing,

    /// <summary>Stopped: no new input.</summary>
    Stopped,
}

/// <summary>A listener's state, since when it has been failing, and the last failure's message.</summary>
public sealed record ListenerStatus(ListenerState State, DateTimeOffset? FailingSince, string? LastError);

/// <summary>Tracks a listener's <see cref="ListenerStatus"/> as its loops report in; thread-safe.</summary>
public sealed class ListenerStatusTracker(TimeProvider time)
{
    private volatile ListenerStatus _status = new(ListenerState.Starting, null, null);

    /// <summary>The status now.</summary>
    public ListenerStatus Current => _status;

    /// <summary>The listener is bound and taking input.</summary>
    public void OnListening() => _status = _status with { State = ListenerState.Listening, FailingSince = null };

    /// <summary>An accept or receive failed and will be retried.</summary>
    public void OnFailure(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var status = _status;
        _status = new ListenerStatus(ListenerState.Failing, status.FailingSince ?? time.GetUtcNow(), error.Message);
    }

    /// <summary>An accept or receive succeeded: cheap when nothing was failing.</summary>
    public void OnSuccess()
    {
        if (_status.State == ListenerState.Failing)
        {
            OnListening();
        }
    }

    /// <summary>The listener was stopped.</summary>
    public void OnStopped() => _status = _status with { State = ListenerState.Stopped, FailingSince = null };
}
