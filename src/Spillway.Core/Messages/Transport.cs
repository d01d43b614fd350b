namespace Spillway.Messages;

/// <summary>The kind of listener a message arrived on; stored in the <c>source</c> column.</summary>
public enum Transport
{
    /// <summary>A TCP connection, LF or octet-counted framing.</summary>
    Tcp,

    /// <summary>A UDP datagram.</summary>
    Udp,

    /// <summary>An HTTP request body.</summary>
    Http,
}
