using System.Net;
using Spillway.Pipeline;

namespace Spillway.Udp;

/// <summary>Where the UDP source listens, how large a datagram it accepts, and what it does when the buffer is full.</summary>
public sealed record UdpSourceOptions
{
    /// <summary>The default listen endpoint: 127.0.0.1:5514.</summary>
    public static readonly IPEndPoint DefaultEndpoint = new(IPAddress.Loopback, 5514);

    /// <summary>The default of <see cref="ReceiveBufferBytes"/>: 4 MiB.</summary>
    public const int DefaultReceiveBufferBytes = 4 << 20;

    /// <summary>Endpoints to listen on; port 0 picks a free port. <value>The default is 127.0.0.1:5514.</value></summary>
    public IReadOnlyList<IPEndPoint> Endpoints { get; init; } = [DefaultEndpoint];

    /// <summary>The largest datagram accepted whole; longer ones are cut and kept as rejects. <value>The default is 64 KiB.</value></summary>
    public int MaxMessageBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// The socket's receive buffer (SO_RCVBUF): datagrams the kernel holds while the source is busy. Linux caps it at
    /// <c>net.core.rmem_max</c>; the size granted is logged at start. <value>The default is 4 MiB.</value>
    /// </summary>
    public int ReceiveBufferBytes { get; init; } = DefaultReceiveBufferBytes;

    /// <summary>
    /// What a datagram that finds the buffer full gets. UDP has no way to push back on a sender, so the default drops
    /// it and counts it; <see cref="FullPolicy.Wait"/> stops reading instead, and the kernel drops what no longer
    /// fits in the socket buffer, uncounted. <value>The default is <see cref="FullPolicy.Drop"/>.</value>
    /// </summary>
    public FullPolicy WhenFull { get; init; } = FullPolicy.Drop;

    /// <summary>On stop, a socket that delivers nothing for this long is done. <value>The default is 250 ms.</value></summary>
    public TimeSpan StopQuietPeriod { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>On stop, the longest time spent reading datagrams still arriving. <value>The default is 5 s.</value></summary>
    public TimeSpan StopReadTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that is out of range.</summary>
    public void Validate()
    {
        if (Endpoints is null)
        {
            throw new ArgumentException("The endpoint list is missing.", nameof(Endpoints));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1, nameof(MaxMessageBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveBufferBytes, 1024, nameof(ReceiveBufferBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(StopQuietPeriod, TimeSpan.Zero, nameof(StopQuietPeriod));
        ArgumentOutOfRangeException.ThrowIfLessThan(StopReadTimeout, TimeSpan.Zero, nameof(StopReadTimeout));
    }
}
