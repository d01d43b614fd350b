using System.Buffers.Binary;
using System.Text;

namespace Spillway.Messages;

/// <summary>
/// The bytes of one <see cref="IngestItem"/>, little-endian: every field the sinks store, and the frame size the bounds
/// count. The spill log puts each in a checksummed record; a JetStream batch puts them one after the other.
/// <see cref="IngestItem.Client"/> comes last, and only when it is set: an item without it is written as the versions
/// before it wrote theirs, so what they wrote reads back here unchanged. An item with it reads in this version and later
/// ones only: an earlier version finds bytes after its last field and refuses it.
/// </summary>
public static class ItemCodec
{
    private const byte KindMessage = 1;
    private const byte KindReject = 2;
    private const int NullLength = -1;

    /// <summary>
    /// Writes the item into <paramref name="scratch"/> from <paramref name="offset"/> on (growing it as needed, keeping
    /// what is before the offset), and returns where it ends.
    /// </summary>
    /// <exception cref="ArgumentException">The item is of a kind this version does not write.</exception>
    public static int Encode(IngestItem item, ref byte[] scratch, int offset)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(scratch);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var writer = new Writer(scratch, offset);
        writer.Byte(item is Message ? KindMessage : KindReject);
        writer.Int64(item.ReceivedAt.UtcTicks);
        writer.Byte((byte)item.Transport);
        writer.String(item.Peer);
        writer.Int32(item.Size);
        switch (item)
        {
            case Message m:
                writer.Byte(m.Facility is { } f ? (byte)f : byte.MaxValue);
                writer.Byte(m.Severity is { } s ? (byte)s : byte.MaxValue);
                if (m.Timestamp is { } ts)
                {
                    writer.Byte(1);
                    writer.Int64(ts.Ticks);
                    writer.Int32((int)ts.Offset.TotalMinutes);
                }
                else
                {
                    writer.Byte(0);
                }

                writer.String(m.Hostname);
                writer.String(m.AppName);
                writer.String(m.ProcId);
                writer.String(m.MsgId);
                writer.String(m.StructuredData);
                writer.Bytes(m.Utf8Text.Span);
                break;
            case Reject r:
                writer.Byte((byte)r.Reason);
                writer.String(r.Detail);
                writer.Bytes(r.Raw);
                break;
            default:
                throw new ArgumentException($"Unknown item type {item.GetType().Name}.", nameof(item));
        }

        if (item.Client is { } client)
        {
            writer.String(client);
        }

        scratch = writer.Buffer;
        return writer.Position;
    }

    /// <summary>The frame size an encoded item counts against the bounds, read without decoding the rest.</summary>
    /// <exception cref="InvalidDataException">The bytes end before the frame size.</exception>
    public static int FrameSize(ReadOnlySpan<byte> payload)
    {
        var reader = new Reader(payload);
        reader.Byte();
        reader.Int64();
        reader.Byte();
        reader.String();
        return reader.Int32();
    }

    /// <summary>Reads the item back from exactly the bytes <see cref="Encode"/> wrote (whose checksum the caller has verified).</summary>
    /// <exception cref="InvalidDataException">The bytes are not an item this version writes.</exception>
    public static IngestItem Decode(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Reader(payload);
            var kind = reader.Byte();
            var receivedAt = new DateTimeOffset(reader.Int64(), TimeSpan.Zero);
            var transport = (Transport)reader.Byte();
            var peer = reader.String() ?? throw new InvalidDataException("A record has no peer.");
            var size = reader.Int32();
            if (!Enum.IsDefined(transport))
            {
                throw new InvalidDataException($"A record names transport {(int)transport}, which does not exist.");
            }

            IngestItem item;
            if (kind == KindMessage)
            {
                var facility = reader.Byte();
                var severity = reader.Byte();
                DateTimeOffset? timestamp = reader.Byte() == 1
                    ? new DateTimeOffset(reader.Int64(), TimeSpan.FromMinutes(reader.Int32()))
                    : null;
                var hostname = reader.String();
                var appName = reader.String();
                var procId = reader.String();
                var msgId = reader.String();
                var structuredData = reader.String();
                item = new Message(receivedAt, transport, peer, reader.Bytes(), size)
                {
                    Facility = facility == byte.MaxValue ? null : facility,
                    Severity = severity == byte.MaxValue ? null : severity,
                    Timestamp = timestamp,
                    Hostname = hostname,
                    AppName = appName,
                    ProcId = procId,
                    MsgId = msgId,
                    StructuredData = structuredData,
                };
            }
            else if (kind == KindReject)
            {
                var reason = (RejectReason)reader.Byte();
                if (!Enum.IsDefined(reason))
                {
                    throw new InvalidDataException($"A record names reject reason {(int)reason}, which does not exist.");
                }

                var detail = reader.String();
                item = new Reject(receivedAt, transport, peer, reason, reader.Bytes().ToArray(), detail);
            }
            else
            {
                throw new InvalidDataException($"A record is of kind {kind}, which this version does not write.");
            }

            if (!reader.AtEnd)
            {
                item.Client = reader.String() ?? throw new InvalidDataException("A record's client is written as null.");
            }

            if (!reader.AtEnd)
            {
                throw new InvalidDataException("A record has bytes after its last field.");
            }

            return item;
        }
        catch (Exception ex) when (ex is ArgumentException or ArgumentOutOfRangeException)
        {
            throw new InvalidDataException($"A record does not decode: {ex.Message}", ex);
        }
    }

    private ref struct Writer(byte[] buffer, int position)
    {
        public byte[] Buffer = buffer;
        public int Position = position;

        public void Byte(byte value) => Take(1)[0] = value;

        public void Int32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Take(4), value);

        public void Int64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

        public void String(string? value)
        {
            if (value is null)
            {
                Int32(NullLength);
                return;
            }

            var length = Encoding.UTF8.GetByteCount(value);
            Int32(length);
            Encoding.UTF8.GetBytes(value, Take(length));
        }

        public void Bytes(ReadOnlySpan<byte> value)
        {
            Int32(value.Length);
            value.CopyTo(Take(value.Length));
        }

        private Span<byte> Take(int count)
        {
            if (Position + count > Buffer.Length)
            {
                Array.Resize(ref Buffer, Math.Max(Buffer.Length * 2, Position + count));
            }

            var span = Buffer.AsSpan(Position, count);
            Position += count;
            return span;
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly bool AtEnd => _data.IsEmpty;

        public byte Byte() => Take(1)[0];

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public string? String()
        {
            var length = Int32();
            return length == NullLength ? null : Encoding.UTF8.GetString(Take(length));
        }

        public ReadOnlySpan<byte> Bytes() => Take(Int32());

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || count > _data.Length)
            {
                throw new InvalidDataException("A record's field runs past its end.");
            }

            var span = _data[..count];
            _data = _data[count..];
            return span;
        }
    }
}
