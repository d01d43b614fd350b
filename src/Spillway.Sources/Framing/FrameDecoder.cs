using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Syslog;

namespace Spillway.Framing;

/// <summary>
/// Turns frames into what the buffer holds: a message for valid UTF-8 (syslog fields filled where the frame is
/// syslog), a reject with its raw bytes for an oversize, truncated or non-UTF-8 frame, nothing for a blank line
/// (counted). Every source decodes through here. Never throws on input.
/// </summary>
public sealed class FrameDecoder
{
    private readonly IngestStats _stats;
    private readonly BadInputLog _badInput;
    private readonly TimeProvider _time;

    /// <summary>Creates a decoder.</summary>
    public FrameDecoder(IngestStats stats, BadInputLog badInput, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(badInput);
        ArgumentNullException.ThrowIfNull(time);
        _stats = stats;
        _badInput = badInput;
        _time = time;
    }

    /// <summary>Decodes one frame cut from a stream; null when it was blank and skipped.</summary>
    /// <param name="frame">The frame; its payload is copied, so the caller may advance past it afterwards.</param>
    /// <param name="transport">The listener kind it arrived on.</param>
    /// <param name="peer">The sender as <c>ip:port</c>.</param>
    /// <param name="maxMessageBytes">The size limit the frame was cut to, for the reject's explanation.</param>
    public IngestItem? Decode(in Frame frame, Transport transport, string peer, int maxMessageBytes)
    {
        var payload = frame.Payload;
        switch (frame.Kind)
        {
            case FrameKind.Message when payload.IsSingleSegment:
                return Decode(payload.FirstSpan, transport, peer, maxMessageBytes);
            case FrameKind.Message:
                // A frame split across segments is copied once into a pooled buffer, so validation and parsing see it whole.
                var length = checked((int)payload.Length);
                var rented = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    payload.CopyTo(rented);
                    return Decode(rented.AsSpan(0, length), transport, peer, maxMessageBytes);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(rented);
                }

            case FrameKind.Oversize:
                var what = frame.IsOctetCounted ? $"an octet-counted frame of {frame.DeclaredLength} bytes" : "a line";
                return Reject(RejectReason.Oversize, payload.ToArray(), transport, peer,
                    $"{what} longer than the limit of {maxMessageBytes} bytes; its first {maxMessageBytes} bytes are kept");
            default:
                var of = frame.IsOctetCounted ? $" of the {frame.DeclaredLength} announced" : "";
                return Reject(RejectReason.Truncated, payload.ToArray(), transport, peer,
                    $"the stream ended {payload.Length} bytes{of} into a frame");
        }
    }

    /// <summary>
    /// Decodes one whole message (a datagram, a line of a request body); null when it was blank and skipped. A
    /// message longer than <paramref name="maxMessageBytes"/> becomes an oversize reject holding its first bytes.
    /// </summary>
    public IngestItem? Decode(ReadOnlySpan<byte> payload, Transport transport, string peer, int maxMessageBytes)
    {
        if (payload.Length > maxMessageBytes)
        {
            return Reject(RejectReason.Oversize, payload[..maxMessageBytes].ToArray(), transport, peer,
                $"a message of {payload.Length} bytes is longer than the limit of {maxMessageBytes} bytes; its first {maxMessageBytes} bytes are kept");
        }

        if (payload.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0)
        {
            _stats.OnBlank(transport);
            return null;
        }

        if (!Utf8.IsValid(payload))
        {
            return Reject(RejectReason.InvalidUtf8, payload.ToArray(), transport, peer, "the message is not valid UTF-8");
        }

        var receivedAt = _time.GetUtcNow();
        var parts = SyslogParser.Parse(payload, receivedAt);
        return new Message(receivedAt, transport, peer, payload[parts.Message], payload.Length)
        {
            Facility = parts.Facility,
            Severity = parts.Severity,
            Timestamp = parts.Timestamp,
            Hostname = Text(payload, parts.Hostname),
            AppName = Text(payload, parts.AppName),
            ProcId = Text(payload, parts.ProcId),
            MsgId = Text(payload, parts.MsgId),
            StructuredData = Text(payload, parts.StructuredData),
        };
    }

    private static string? Text(ReadOnlySpan<byte> payload, Range? range) => range is { } r ? Encoding.UTF8.GetString(payload[r]) : null;

    private Reject Reject(RejectReason reason, byte[] raw, Transport transport, string peer, string detail)
    {
        _badInput.Report(reason, transport, peer, detail);
        return new Reject(_time.GetUtcNow(), transport, peer, reason, raw, detail);
    }
}
