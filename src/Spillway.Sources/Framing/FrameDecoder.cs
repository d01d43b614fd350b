using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Spillway.Diagnostics;
using Spillway.Messages;

namespace Spillway.Framing;

/// <summary>
/// Turns frames into what the buffer holds: a message for valid UTF-8, a reject (with its raw bytes) for an
/// oversize, truncated or non-UTF-8 frame, nothing for a blank line (counted). Never throws on input.
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

    /// <summary>Decodes one frame; null when it was blank and skipped.</summary>
    /// <param name="frame">The frame; its payload is copied, so the caller may advance past it afterwards.</param>
    /// <param name="transport">The listener kind it arrived on.</param>
    /// <param name="peer">The sender as <c>ip:port</c>.</param>
    /// <param name="maxMessageBytes">The size limit the frame was cut to, for the reject's explanation.</param>
    public IngestItem? Decode(in Frame frame, Transport transport, string peer, int maxMessageBytes)
    {
        var payload = frame.Payload;
        switch (frame.Kind)
        {
            case FrameKind.Message when IsBlank(payload):
                _stats.OnBlank();
                return null;
            case FrameKind.Message:
                if (TryDecodeUtf8(payload, out var text))
                {
                    return new Message(_time.GetUtcNow(), transport, peer, text, (int)payload.Length);
                }

                return Reject(RejectReason.InvalidUtf8, payload, transport, peer, "the frame is not valid UTF-8");
            case FrameKind.Oversize:
                var what = frame.IsOctetCounted ? $"an octet-counted frame of {frame.DeclaredLength} bytes" : "a line";
                return Reject(RejectReason.Oversize, payload, transport, peer,
                    $"{what} longer than the limit of {maxMessageBytes} bytes; its first {maxMessageBytes} bytes are kept");
            default:
                var of = frame.IsOctetCounted ? $" of the {frame.DeclaredLength} announced" : "";
                return Reject(RejectReason.Truncated, payload, transport, peer,
                    $"the stream ended {payload.Length} bytes{of} into a frame");
        }
    }

    private Reject Reject(RejectReason reason, in ReadOnlySequence<byte> payload, Transport transport, string peer, string detail)
    {
        _badInput.Report(reason, transport, peer, detail);
        return new Reject(_time.GetUtcNow(), transport, peer, reason, payload.ToArray(), detail);
    }

    /// <summary>A blank frame is empty or holds only spaces and tabs.</summary>
    private static bool IsBlank(in ReadOnlySequence<byte> payload)
    {
        foreach (var segment in payload)
        {
            if (segment.Span.IndexOfAnyExcept((byte)' ', (byte)'\t') >= 0)
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryDecodeUtf8(in ReadOnlySequence<byte> payload, out string text)
    {
        if (payload.IsSingleSegment)
        {
            return TryDecodeUtf8(payload.FirstSpan, out text);
        }

        // A frame split across segments is copied once into a pooled buffer, so validation sees the whole of it.
        var length = checked((int)payload.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(rented);
            return TryDecodeUtf8(rented.AsSpan(0, length), out text);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool TryDecodeUtf8(ReadOnlySpan<byte> bytes, out string text)
    {
        if (!Utf8.IsValid(bytes))
        {
            text = "";
            return false;
        }

        text = Encoding.UTF8.GetString(bytes);
        return true;
    }
}
