using Microsoft.Extensions.Logging;
using Spillway.Messages;

namespace Spillway.Diagnostics;

/// <summary>
/// Logs bad or dropped input once per reason per interval, never once per message, so that a flood of garbage (or
/// of datagrams into a full buffer) cannot flood the log. The first of a reason is logged at once; later ones are
/// counted and reported in one line when the interval has passed.
/// </summary>
public sealed class BadInputLog
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ReasonState> _reasons = new(StringComparer.Ordinal);

    /// <summary>Creates the log.</summary>
    /// <param name="logger">Where the lines go.</param>
    /// <param name="time">The clock that paces the reports.</param>
    /// <param name="interval">The least time between two lines for one reason. The default is one minute.</param>
    public BadInputLog(ILogger<BadInputLog> logger, TimeProvider time, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        _logger = logger;
        _time = time;
        _interval = interval ?? TimeSpan.FromMinutes(1);
    }

    /// <summary>Reports one rejected frame.</summary>
    public void Report(RejectReason reason, Transport transport, string peer, string detail) => Report(reason.ToName(), transport, peer, detail);

    /// <summary>Reports one frame rejected or dropped for a reason such as <c>invalid-utf8</c> or <c>buffer-full</c>.</summary>
    public void Report(string reason, Transport transport, string peer, string detail)
    {
        var now = _time.GetTimestamp();
        long suppressed;
        lock (_gate)
        {
            if (_reasons.TryGetValue(reason, out var state) && _time.GetElapsedTime(state.LastLogged, now) < _interval)
            {
                _reasons[reason] = state with { Suppressed = state.Suppressed + 1 };
                return;
            }

            suppressed = state.Suppressed;
            _reasons[reason] = new ReasonState(now, 0);
        }

        if (suppressed == 0)
        {
            Log.BadInput(_logger, transport.ToName(), peer, reason, detail, _interval);
        }
        else
        {
            Log.BadInputSuppressed(_logger, suppressed + 1, reason, transport.ToName(), peer, detail);
        }
    }

    private readonly record struct ReasonState(long LastLogged, long Suppressed);
}
