namespace Spillway.Messages;

/// <summary>The names under which transports are stored and printed.</summary>
public static class TransportNames
{
    /// <summary>The transports a listener receives on: every one but <see cref="Transport.JetStream"/>, the metrics' sources.</summary>
    public static IReadOnlyList<Transport> Listeners { get; } = [.. Enum.GetValues<Transport>().Where(t => t != Transport.JetStream)];

    /// <summary>
    /// Returns the lower-case name stored in the <c>source</c> column: <c>tcp</c>, <c>udp</c>, <c>http</c>, <c>tls</c>,
    /// <c>https</c>, or <c>jetstream</c> for an undecodable stream message.
    /// </summary>
    public static string ToName(this Transport transport) => transport switch
    {
        Transport.Tcp => "tcp",
        Transport.Udp => "udp",
        Transport.Http => "http",
        Transport.Tls => "tls",
        Transport.Https => "https",
        Transport.JetStream => "jetstream",
        _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "Unknown transport."),
    };
}
