namespace Spillway.Messages;

/// <summary>
/// One accepted message. The syslog fields are null for a raw frame, whose whole text is <see cref="Text"/>.
/// </summary>
public sealed class Message : IngestItem
{
    /// <summary>Creates a message.</summary>
    /// <param name="receivedAt">When the frame was read, in UTC.</param>
    /// <param name="transport">The listener kind it arrived on.</param>
    /// <param name="peer">The sender as <c>ip:port</c>.</param>
    /// <param name="text">The MSG part, or the whole frame when raw.</param>
    /// <param name="size">The frame's length in bytes as received.</param>
    public Message(DateTimeOffset receivedAt, Transport transport, string peer, string text, int size)
        : base(receivedAt, transport, peer)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        Text = text;
        Size = size;
    }

    /// <summary>The MSG part of a syslog message, or the whole frame when raw.</summary>
    public string Text { get; }

    /// <inheritdoc />
    public override int Size { get; }

    /// <summary>Syslog facility (0-23), or null.</summary>
    public int? Facility { get; init; }

    /// <summary>Syslog severity (0-7), or null.</summary>
    public int? Severity { get; init; }

    /// <summary>The sender's timestamp, or null.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>The HOSTNAME field, or null.</summary>
    public string? Hostname { get; init; }

    /// <summary>The APP-NAME (or 3164 TAG) field, or null.</summary>
    public string? AppName { get; init; }

    /// <summary>The PROCID field, or null.</summary>
    public string? ProcId { get; init; }

    /// <summary>The MSGID field, or null.</summary>
    public string? MsgId { get; init; }

    /// <summary>The STRUCTURED-DATA field as received, or null.</summary>
    public string? StructuredData { get; init; }
}
