using System.Buffers.Binary;

namespace Spillway.Spill;

/// <summary>What <see cref="SegmentReader.Next"/> found.</summary>
internal enum ReadOutcome
{
    /// <summary>A record whose checksum holds.</summary>
    Record,

    /// <summary>Nothing more before the limit.</summary>
    End,

    /// <summary>Bytes that are not a record: a torn write or damage. The reader has moved past them.</summary>
    Damage,
}

/// <summary>
/// Reads the records of one segment file in order, through a window of the file, trusting nothing it has not
/// checked: a record is believed only when its length is sane, it ends before the limit, its sequence number follows
/// the last one read and its checksum holds. Bytes that fail are reported as damage, and the reader moves on to the
/// next place a whole, valid record starts (or to the limit).
/// </summary>
internal sealed class SegmentReader : IDisposable
{
    private const int WindowBytes = 1024 * 1024;

    // No real log skips this many sequence numbers between two records; a "record" that claims to is damage.
    private const long MaxSequenceGap = 1L << 40;

    private readonly ISpillFile _file;
    private byte[] _window = new byte[WindowBytes];
    private long _windowStart;
    private int _windowLength;

    public SegmentReader(ISpillFileSystem files, string path, long firstSequence)
    {
        Path = path;
        FirstSequence = firstSequence;
        LastSequence = firstSequence - 1;
        _file = files.Open(path, SpillFileMode.Read);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The sequence number the file is named for: no record in it has a smaller one.</summary>
    public long FirstSequence { get; }

    /// <summary>Where the next record starts.</summary>
    public long Position { get; private set; }

    /// <summary>The sequence number of the last record read (<see cref="FirstSequence"/> - 1 before the first).</summary>
    public long LastSequence { get; private set; }

    /// <summary>The file's length now.</summary>
    public long Length => _file.Length;

    /// <summary>
    /// Reads what is at <see cref="Position"/>, looking no further than <paramref name="limit"/> (the bytes known to be
    /// written). On <see cref="ReadOutcome.Record"/>, <paramref name="payload"/> is valid until the next call; on
    /// <see cref="ReadOutcome.Damage"/>, <paramref name="damageStart"/> and <paramref name="damageLength"/> say which bytes
    /// were passed over.
    /// </summary>
    public ReadOutcome Next(long limit, out long sequence, out ReadOnlySpan<byte> payload, out long damageStart, out long damageLength)
    {
        sequence = 0;
        payload = default;
        damageStart = Position;
        damageLength = 0;
        if (Position >= limit)
        {
            return ReadOutcome.End;
        }

        if (TryRecordAt(Position, limit, out var length, out sequence))
        {
            payload = _window.AsSpan((int)(Position - _windowStart) + RecordCodec.HeaderLength, length);
            Position += RecordCodec.HeaderLength + length;
            LastSequence = sequence;
            return ReadOutcome.Record;
        }

        // Damage: find the next offset where a whole valid record starts, or give up at the limit.
        var next = Position + 1;
        while (next < limit && !TryRecordAt(next, limit, out _, out _))
        {
            next++;
        }

        damageLength = next - Position;
        Position = next;
        return ReadOutcome.Damage;
    }

    /// <summary>Moves to <paramref name="position"/>, the start of a record, with <paramref name="lastSequence"/> read before it.</summary>
    public void Seek(long position, long lastSequence)
    {
        Position = position;
        LastSequence = lastSequence;
    }

    /// <summary>Copies <paramref name="length"/> bytes from <paramref name="start"/>, for the quarantine.</summary>
    public byte[] ReadBytes(long start, long length)
    {
        var bytes = new byte[length];
        var done = 0;
        while (done < bytes.Length)
        {
            var n = _file.Read(bytes.AsSpan(done), start + done);
            if (n == 0)
            {
                Array.Resize(ref bytes, done);
                break;
            }

            done += n;
        }

        return bytes;
    }

    public void Dispose() => _file.Dispose();

    private bool TryRecordAt(long offset, long limit, out int length, out long sequence)
    {
        length = 0;
        sequence = 0;
        if (!Ensure(offset, RecordCodec.HeaderLength, limit))
        {
            return false;
        }

        var header = _window.AsSpan((int)(offset - _windowStart), RecordCodec.HeaderLength);
        length = BinaryPrimitives.ReadInt32LittleEndian(header);
        sequence = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        if (length <= 0 || length > RecordCodec.MaxPayloadLength
            || sequence <= LastSequence || sequence - LastSequence > MaxSequenceGap
            || !Ensure(offset, RecordCodec.HeaderLength + length, limit))
        {
            return false;
        }

        var record = _window.AsSpan((int)(offset - _windowStart), RecordCodec.HeaderLength + length);
        return BinaryPrimitives.ReadUInt32LittleEndian(record[4..]) == RecordCodec.Checksum(record);
    }

    /// <summary>Makes bytes [offset, offset + count) readable in the window; false when they are not all before the limit.</summary>
    private bool Ensure(long offset, int count, long limit)
    {
        if (offset + count > limit)
        {
            return false;
        }

        if (offset >= _windowStart && offset + count <= _windowStart + _windowLength)
        {
            return true;
        }

        if (count > _window.Length)
        {
            _window = new byte[Math.Max(count, _window.Length * 2)];
        }

        var wanted = (int)Math.Min(_window.Length, limit - offset);
        var read = 0;
        while (read < wanted)
        {
            var n = _file.Read(_window.AsSpan(read, wanted - read), offset + read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        _windowStart = offset;
        _windowLength = read;
        return read >= count;
    }
}
