using System.Net;
using Spillway.Messages;

namespace Spillway.Pipeline;

/// <summary>A listener that feeds the buffer: the producer side of the pipeline.</summary>
public interface ISource : IAsyncDisposable
{
    /// <summary>The kind of listener, for the <c>listening</c> lines and logs.</summary>
    Transport Transport { get; }

    /// <summary>
    /// The transport of one of the endpoints <see cref="StartAsync"/> bound: <see cref="Transport"/>, unless the source
    /// serves two on one listener (HTTP and HTTPS).
    /// </summary>
    Transport TransportOf(IPEndPoint endpoint) => Transport;

    /// <summary>Whether the listener is taking input, for <c>/health</c>.</summary>
    ListenerStatus Status { get; }

    /// <summary>Connections open now (TCP); zero for a listener without connections of its own.</summary>
    int OpenConnections { get; }

    /// <summary>How often its limits (connections, idle time, bodies in flight) turned input away.</summary>
    SourceLimitCounters Limits { get; }

    /// <summary>Binds every endpoint and starts feeding the buffer; returns the endpoints bound (ports chosen for port 0).</summary>
    /// <param name="abort">Cancels waits for buffer room on a forced stop.</param>
    Task<IReadOnlyList<IPEndPoint>> StartAsync(CancellationToken abort);

    /// <summary>
    /// Stops taking new input, hands what is in hand to the buffer, and returns when the source will write no more.
    /// Idempotent.
    /// </summary>
    Task StopAsync();
}
