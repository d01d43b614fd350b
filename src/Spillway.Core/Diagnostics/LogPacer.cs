namespace Spillway.Diagnostics;

/// <summary>
/// Lets a warning through at most once an interval (a minute unless told), however often its condition recurs: the
/// first at once, then none until the interval has passed. Not thread-safe: its owner's lock, or its one thread,
/// guards it. (<see cref="BadInputLog"/> does the same per reason, and counts what it held back.)
/// </summary>
public sealed class LogPacer
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private long? _saidAt;

    /// <summary>Creates a pacer on <paramref name="time"/>.</summary>
    public LogPacer(TimeProvider time, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _interval = interval ?? TimeSpan.FromMinutes(1);
    }

    /// <summary>True when the warning may be said now (and counts it said); false within the interval of the last.</summary>
    public bool Due()
    {
        if (_saidAt is { } at && _time.GetElapsedTime(at) < _interval)
        {
            return false;
        }

        _saidAt = _time.GetTimestamp();
        return true;
    }

    /// <summary>The condition has ended: its next occurrence is said at once.</summary>
    public void Reset() => _saidAt = null;
}
