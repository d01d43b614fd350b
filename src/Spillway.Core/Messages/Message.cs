using System.Text;
using System.Text.Unicode;

namespace Spillway.Messages;

/// <summary>
/// One accepted message. The syslog fields are null for a raw frame, whose whole text is <see cref="Text"/>.
/// </summary>
/// <remarks>
/// The text is held as the UTF-8 bytes it arrived in: half the memory of a string for the messages waiting in the
/// buffer, and what SQLite stores, so the sink binds it as it is.
/// </remarks>
public sealed class Message : IngestItem
{
    private readonly byte[] _utf8Text;

    /// <summary>Creates a message from UTF-8 text, as a source reads it off the wire.</summary>
    /// <param name="receivedAt">When the frame was read, in UTC.</param>
    /// <param name="transport">The listener kind it arrived on.</param>
    /// <param name="peer">The sender as <c>ip:port</c>.</param>
    /// <param name="utf8Text">The MSG part, or the whole frame when raw, in UTF-8; copied.</param>
    /// <param name="size">The frame's length in bytes as received.</param>
    /// <exception cref="ArgumentException"><paramref name="utf8Text"/> is not valid UTF-8.</exception>
    public Message(DateTimeOffset receivedAt, Transport transport, string peer, ReadOnlySpan<byte> utf8Text, int size)
        : base(receivedAt, transport, peer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (!Utf8.IsValid(utf8Text))
        {
            throw new ArgumentException("The text is not valid UTF-8.", nameof(utf8Text));
        }

        _utf8Text = utf8Text.ToArray();
        Size = size;
    }

    /// <summary>Creates a message from text.</summary>
    /// <param name="receivedAt">When the frame was read, in UTC.</param>
    /// <param name="transport">The listener kind it arrived on.</param>
    /// <param name="peer">The sender as <c>ip:port</c>.</param>
    /// <param name="text">The MSG part, or the whole frame when raw. A lone surrogate becomes U+FFFD.</param>
    /// <param name="size">The frame's length in bytes as received.</param>
    public Message(DateTimeOffset receivedAt, Transport transport, string peer, string text, int size)
        : base(receivedAt, transport, peer)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        _utf8Text = Encoding.UTF8.GetBytes(text);
        Size = size;
    }

    /// <summary>The MSG part of a syslog message, or the whole frame when raw; decoded on each call.</summary>
    public string Text => Encoding.UTF8.GetString(_utf8Text);

    /// <summary>The text in UTF-8, as held; a sink writes it as it is, without making a string of it.</summary>
    public ReadOnlyMemory<byte> Utf8Text => _utf8Text;

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
