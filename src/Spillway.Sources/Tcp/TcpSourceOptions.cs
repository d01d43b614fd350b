using System.Net;
using Spillway.Pipeline;

namespace Spillway.Tcp;

/// <summary>Where the TCP source listens and how large a frame it accepts.</summary>
public sealed record TcpSourceOptions
{
    /// <summary>The default listen endpoint: 127.0.0.1:5514.</summary>
    public static readonly IPEndPoint DefaultEndpoint = new(IPAddress.Loopback, 5514);

    /// <summary>The default of <see cref="MaxMessageBytes"/>: 64 KiB.</summary>
    public const int DefaultMaxMessageBytes = 64 * 1024;

    /// <summary>Endpoints to listen on (none turns the source off); port 0 picks a free port. <value>The default is 127.0.0.1:5514.</value></summary>
    public IReadOnlyList<IPEndPoint> Endpoints { get; init; } = [DefaultEndpoint];

    /// <summary>The largest frame accepted whole; longer ones are cut and kept as rejects. <value>The default is 64 KiB.</value></summary>
    public int MaxMessageBytes { get; init; } = DefaultMaxMessageBytes;

    /// <summary>The listen backlog: connections the kernel queues before they are accepted. <value>The default is 512.</value></summary>
    public int Backlog { get; init; } = 512;

    /// <summary>
    /// What a frame that finds the buffer full gets: <see cref="FullPolicy.Wait"/> stops reading the connection, so
    /// TCP pushes back on the sender and nothing is lost; <see cref="FullPolicy.Drop"/> reads on and drops (and counts)
    /// what does not fit, for senders that must never block. <value>The default is <see cref="FullPolicy.Wait"/>.</value>
    /// </summary>
    public FullPolicy WhenFull { get; init; } = FullPolicy.Wait;

    /// <summary>
    /// On stop, the longest time spent reading connections whose senders are still sending. A sender that has
    /// written everything and closed is read to its end well within it. <value>The default is 5 s.</value>
    /// </summary>
    public TimeSpan StopReadTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// On stop, a connection that delivers nothing for this long is done: an idle connection left open does not hold
    /// the stop up. <value>The default is 250 ms.</value>
    /// </summary>
    public TimeSpan StopQuietPeriod { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The default of <see cref="MaxConnections"/>.</summary>
    public const int DefaultMaxConnections = 10_000;

    /// <summary>
    /// The most connections open at once on each listener; one more is accepted and closed at once, and counted.
    /// <value>The default is 10,000.</value>
    /// </summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>
    /// A connection that receives nothing for this long is closed (its unfinished frame kept as a truncated reject);
    /// zero keeps connections open however long they are quiet, as syslog senders expect. <value>The default is zero.</value>
    /// </summary>
    public TimeSpan IdleTimeout { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that is out of range.</summary>
    public void Validate()
    {
        if (Endpoints is null)
        {
            throw new ArgumentException("The endpoint list is missing.", nameof(Endpoints));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1, nameof(MaxMessageBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(Backlog, 1, nameof(Backlog));
        ArgumentOutOfRangeException.ThrowIfLessThan(StopReadTimeout, TimeSpan.Zero, nameof(StopReadTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(StopQuietPeriod, TimeSpan.Zero, nameof(StopQuietPeriod));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnections, 1, nameof(MaxConnections));
        ArgumentOutOfRangeException.ThrowIfLessThan(IdleTimeout, TimeSpan.Zero, nameof(IdleTimeout));
    }
}
