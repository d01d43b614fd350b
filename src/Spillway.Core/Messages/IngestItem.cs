namespace Spillway.Messages;

/// <summary>
/// What a source hands to the buffer: a <see cref="Message"/> to store as a row, or a <see cref="Reject"/> to keep
/// in the rejects table. Both count as accepted, and both are stored before the buffer releases their capacity.
/// </summary>
public abstract class IngestItem
{
    private protected IngestItem(DateTimeOffset receivedAt, Transport transport, string peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ReceivedAt = receivedAt;
        Transport = transport;
        Peer = peer;
    }

    /// <summary>When the frame was read, in UTC.</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>The listener kind it arrived on.</summary>
    public Transport Transport { get; }

    /// <summary>The sender as <c>ip:port</c>.</summary>
    public string Peer { get; }

    /// <summary>
    /// Who sent it, as the listener vouched for it: the name of the API key of the request, or the subject of the client
    /// certificate under mutual TLS; null on a listener that asks for neither. Set by the source before it writes the item
    /// to the buffer, and stored in the <c>client</c> column.
    /// </summary>
    public string? Client { get; set; }

    /// <summary>The bytes this item holds against the buffer's byte bound: the frame's length as received.</summary>
    public abstract int Size { get; }

    /// <summary>
    /// Told when the item has been stored, for a source that answers its sender only then (HTTP); null for the
    /// others. Set by the source before it writes the item to the buffer.
    /// </summary>
    public Pipeline.Receipt? Receipt { get; set; }
}
