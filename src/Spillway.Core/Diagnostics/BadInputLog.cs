using Microsoft.Extensions.Logging;
using Spillway.Messages;

namespace Spillway.Diagnostics;

/// <summary>
/// Logs bad input once per reason per interval, never once per message, so that a flood of garbage cannot flood
/// the log. The first reject of a reason is logged at once; later ones are counted and reported in one line when
/// the interval has passed.
/// </summary>
public sealed class BadInputLog
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Lock _gate = new();
    private readonly ReasonState[] _reasons = new ReasonState[RejectReasonNames.All.Count];

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
    public void Report(RejectReason reason, Transport transport, string peer, string detail)
    {
        var now = _time.GetTimestamp();
        long suppressed;
        lock (_gate)
        {
            ref var state = ref _reasons[(int)reason];
            if (state.Logged && _time.GetElapsedTime(state.LastLogged, now) < _interval)
            {
                state.Suppressed++;
                return;
            }

            suppressed = state.Suppressed;
            state = new ReasonState { Logged = true, LastLogged = now };
        }

        if (suppressed == 0)
        {
            Log.BadInput(_logger, reason, transport, peer, detail, _interval);
        }
        else
        {
            Log.BadInputSuppressed(_logger, suppressed + 1, reason.ToName(), transport.ToName(), peer, detail);
        }
    }

    private struct ReasonState
    {
        public bool Logged;
        public long LastLogged;
        public long Suppressed;
    }
}
