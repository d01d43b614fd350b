using System.Buffers;

namespace Spillway.Framing;

/// <summary>
/// Cuts a byte stream into frames, deciding each frame's framing on its own: <c>&lt;digits&gt; SP &lt;</c> starts an
/// RFC 6587 octet-counted frame, anything else is a line ended by LF or NUL (a CR before it is dropped). Requiring
/// the <c>&lt;</c> of a syslog PRI after the count avoids misreading plain lines that happen to start with a number.
/// NUL ends a line because some senders (Python's <c>SysLogHandler</c> over TCP) end each message with NUL and no LF.
/// </summary>
/// <remarks>
/// One framer per stream; it keeps state between calls (a frame being skipped, how far a line was searched), so a
/// frame split across any number of reads comes out whole. Memory is bounded: a frame over the limit is cut at
/// <see cref="MaxMessageBytes"/>, returned as <see cref="FrameKind.Oversize"/>, and the rest of it is skipped
/// without being buffered, so the stream resyncs at the next frame.
/// </remarks>
public sealed class Framer
{
    private const byte Lf = (byte)'\n';
    private const byte Nul = 0;
    private const byte Cr = (byte)'\r';
    private const int MaxLengthDigits = 9;

    private long _skip;        // bytes of an oversize octet-counted frame still to discard
    private bool _discardLine; // discarding the rest of an oversize line, through its LF
    private long _scanned;     // bytes at the start of the buffer already searched for an LF

    /// <summary>Creates a framer.</summary>
    /// <param name="maxMessageBytes">The largest frame payload accepted whole.</param>
    public Framer(int maxMessageBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, 1);
        MaxMessageBytes = maxMessageBytes;
    }

    /// <summary>The largest frame payload accepted whole.</summary>
    public int MaxMessageBytes { get; }

    private enum Header
    {
        NeedMore,
        Line,
        OctetCounted,
    }

    /// <summary>
    /// Reads the next frame from the start of <paramref name="buffer"/>, and moves the start of
    /// <paramref name="buffer"/> past what it consumed.
    /// </summary>
    /// <param name="buffer">The unconsumed bytes of the stream. On return its start is where reading resumes.</param>
    /// <param name="isFinal">True when no more bytes will come: a partial frame is then returned as truncated.</param>
    /// <param name="frame">The frame, when the result is true.</param>
    /// <returns>True when a frame was read; false when more bytes are needed, or none are left at the end.</returns>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, bool isFinal, out Frame frame)
    {
        frame = default;
        if (!SkipDiscarded(ref buffer) || buffer.IsEmpty)
        {
            return false;
        }

        return ParseHeader(buffer, isFinal, out var length, out var headerLength) switch
        {
            Header.NeedMore => false,
            Header.OctetCounted => TryReadOctetCounted(ref buffer, isFinal, length, headerLength, out frame),
            _ => TryReadLine(ref buffer, isFinal, out frame),
        };
    }

    /// <summary>Discards the rest of an oversize frame. False when the buffer ran out first.</summary>
    private bool SkipDiscarded(ref ReadOnlySequence<byte> buffer)
    {
        if (_skip > 0)
        {
            var n = Math.Min(_skip, buffer.Length);
            buffer = buffer.Slice(n);
            _skip -= n;
            if (_skip > 0)
            {
                return false;
            }
        }

        if (_discardLine)
        {
            var lf = PositionOfLineEnd(buffer);
            if (lf is null)
            {
                buffer = buffer.Slice(buffer.End);
                return false;
            }

            buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
            _discardLine = false;
        }

        return true;
    }

    /// <summary>Decides the framing of the frame at the start of the buffer: <c>NONZERO-DIGIT *DIGIT SP "&lt;"</c> or a line.</summary>
    private static Header ParseHeader(in ReadOnlySequence<byte> buffer, bool isFinal, out long length, out int headerLength)
    {
        length = 0;
        headerLength = 0;
        var reader = new SequenceReader<byte>(buffer);
        var digits = 0;
        byte b;
        while (true)
        {
            if (!reader.TryRead(out b))
            {
                return isFinal ? Header.Line : Header.NeedMore;
            }

            if (b is < (byte)'0' or > (byte)'9' || (digits == 0 && b == (byte)'0'))
            {
                break;
            }

            if (++digits > MaxLengthDigits)
            {
                return Header.Line;
            }

            length = length * 10 + (b - '0');
        }

        if (digits == 0 || b != (byte)' ')
        {
            return Header.Line;
        }

        if (!reader.TryPeek(out b))
        {
            return isFinal ? Header.Line : Header.NeedMore;
        }

        if (b != (byte)'<')
        {
            return Header.Line;
        }

        headerLength = digits + 1; // the '<' belongs to the payload
        return Header.OctetCounted;
    }

    private bool TryReadOctetCounted(ref ReadOnlySequence<byte> buffer, bool isFinal, long length, int headerLength, out Frame frame)
    {
        var available = buffer.Length - headerLength;
        var take = Math.Min(length, MaxMessageBytes);
        if (available >= take)
        {
            var kind = length > MaxMessageBytes ? FrameKind.Oversize : FrameKind.Message;
            frame = new Frame(kind, buffer.Slice(headerLength, take), length);
            buffer = buffer.Slice(headerLength + take);
            _skip = length - take;
            return true;
        }

        if (isFinal)
        {
            frame = new Frame(FrameKind.Truncated, buffer.Slice(headerLength), length);
            buffer = buffer.Slice(buffer.End);
            return true;
        }

        frame = default;
        return false;
    }

    /// <summary>Where the first LF or NUL is, searched a segment at a time with the vectorised IndexOfAny.</summary>
    private static SequencePosition? PositionOfLineEnd(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            var index = buffer.FirstSpan.IndexOfAny(Lf, Nul);
            return index < 0 ? null : buffer.GetPosition(index);
        }

        var position = buffer.Start;
        var origin = position;
        while (buffer.TryGet(ref position, out var memory))
        {
            var index = memory.Span.IndexOfAny(Lf, Nul);
            if (index >= 0)
            {
                return buffer.GetPosition(index, origin);
            }

            origin = position;
        }

        return null;
    }

    private bool TryReadLine(ref ReadOnlySequence<byte> buffer, bool isFinal, out Frame frame)
    {
        // Search only the bytes not searched before, so a long line arriving in small reads costs linear time.
        var lf = PositionOfLineEnd(buffer.Slice(_scanned));
        if (lf is { } end)
        {
            var line = buffer.Slice(0, end);
            if (line.Length > 0 && line.Slice(line.Length - 1).FirstSpan[0] == Cr)
            {
                line = line.Slice(0, line.Length - 1);
            }

            frame = line.Length > MaxMessageBytes
                ? new Frame(FrameKind.Oversize, line.Slice(0, MaxMessageBytes), -1)
                : new Frame(FrameKind.Message, line, -1);
            buffer = buffer.Slice(buffer.GetPosition(1, end));
            _scanned = 0;
            return true;
        }

        // MaxMessageBytes + 1: a line of exactly the limit may still be waiting for the LF after its CR.
        if (buffer.Length > MaxMessageBytes + 1)
        {
            frame = new Frame(FrameKind.Oversize, buffer.Slice(0, MaxMessageBytes), -1);
            buffer = buffer.Slice(buffer.End);
            _discardLine = true;
            _scanned = 0;
            return true;
        }

        if (isFinal)
        {
            // Cut off before its LF; and if it is already over the limit, that is the stronger reason to report.
            frame = buffer.Length > MaxMessageBytes
                ? new Frame(FrameKind.Oversize, buffer.Slice(0, MaxMessageBytes), -1)
                : new Frame(FrameKind.Truncated, buffer, -1);
            buffer = buffer.Slice(buffer.End);
            _scanned = 0;
            return true;
        }

        _scanned = buffer.Length;
        frame = default;
        return false;
    }
}
