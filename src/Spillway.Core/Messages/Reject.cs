namespace Spillway.Messages;

/// <summary>Input that cannot be a message row, kept with its reason so that nothing received is lost.</summary>
public sealed class Reject : IngestItem
{
    /// <summary>Creates a reject.</summary>
    /// <param name="receivedAt">When the frame was read, in UTC.</param>
    /// <param name="transport">The listener kind it arrived on.</param>
    /// <param name="peer">The sender as <c>ip:port</c>.</param>
    /// <param name="reason">Why it is not a message.</param>
    /// <param name="raw">The bytes as received, already cut to the maximum message size.</param>
    /// <param name="detail">A human-readable explanation, or null.</param>
    public Reject(DateTimeOffset receivedAt, Transport transport, string peer, RejectReason reason, byte[] raw, string? detail)
        : base(receivedAt, transport, peer)
    {
        ArgumentNullException.ThrowIfNull(raw);
        Reason = reason;
        Raw = raw;
        Detail = detail;
    }

    /// <summary>Why it is not a message.</summary>
    public RejectReason Reason { get; }

    /// <summary>The bytes as received, cut to the maximum message size.</summary>
    public byte[] Raw { get; }

    /// <summary>A human-readable explanation (for example the database's error), or null.</summary>
    public string? Detail { get; }

    /// <inheritdoc />
    public override int Size => Raw.Length;
}
