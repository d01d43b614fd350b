namespace Spillway.Messages;

/// <summary>The names under which transports are stored and printed.</summary>
public static class TransportNames
{
    /// <summary>Returns the lower-case name stored in the <c>source</c> column: <c>tcp</c>, <c>udp</c>, <c>http</c>, <c>tls</c> or <c>https</c>.</summary>
    public static string ToName(this Transport transport) => transport switch
    {
        Transport.Tcp => "tcp",
        Transport.Udp => "udp",
        Transport.Http => "http",
        Transport.Tls => "tls",
        Transport.Https => "https",
        _ => throw new ArgumentOutOfRangeException(nameof(transport), transport, "Unknown transport."),
    };
}
