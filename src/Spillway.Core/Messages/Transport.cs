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

    /// <summary>A TCP connection in TLS (RFC 5425), with the same framings as <see cref="Tcp"/>.</summary>
    Tls,

    /// <summary>An HTTP request body received over TLS.</summary>
    Https,

    /// <summary>
    /// Not a listener: a message a writer node took from the JetStream stream that is not a batch (kept as an
    /// <see cref="RejectReason.Undecodable"/> reject; every stored row keeps the transport its edge received it on).
    /// </summary>
    JetStream,
}
