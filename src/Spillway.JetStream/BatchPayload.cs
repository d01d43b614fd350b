using System.Buffers.Binary;
using System.Security.Cryptography;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.JetStream;

/// <summary>
/// The bytes of one JetStream message: a batch, or one part of a batch too large for one message. Little-endian:
/// <c>"SPWB" | u8 version | u8 0 | u16 0 | 16 bytes batch id | u16 part | u16 parts | u32 items | u32 CRC-32C | items</c>,
/// each item a <c>u32 length</c> and the item as <see cref="ItemCodec"/> writes it. The checksum covers every byte but
/// its own, the batch id among them, so a message that is not what an edge published is found before a writer stores it.
/// </summary>
internal static class BatchPayload
{
    /// <summary>The header's length.</summary>
    public const int HeaderLength = 36;

    /// <summary>
    /// The smallest message limit a batch can be cut to: room for the header, the headers NATS adds (the message id, about
    /// 50 bytes), and an item.
    /// </summary>
    public const int MinMessageBytes = 4096;

    /// <summary>Bytes kept free under the message limit for what NATS sends with the payload (subject, the message id header).</summary>
    public const int Overhead = 512;

    /// <summary>
    /// The longest frame whose item surely fits in a message of <paramref name="maxMessageBytes"/>: the text and the syslog
    /// fields parsed out of it are at most twice the frame, and the peer, client and the rest take less than 1 KiB.
    /// </summary>
    public static int LargestItem(int maxMessageBytes) => Math.Max(0, (maxMessageBytes - Overhead - HeaderLength - 4 - 1024) / 2);

    private const byte Version = 1;
    private static ReadOnlySpan<byte> Magic => "SPWB"u8;

    /// <summary>
    /// The message id a part is published under: the batch id alone for a whole batch, the batch id and the part's number
    /// for a part (never one id for several parts: the server would drop all but the first as duplicates, answering
    /// them without an error). The same on every attempt, so a republish after a crash is dropped as a duplicate.
    /// </summary>
    public static string MessageId(Guid batch, int part, int parts) =>
        parts == 1 ? batch.ToString("N") : $"{batch:N}.{part + 1}-of-{parts}";

    /// <summary>
    /// The id a writer stores a part under in the database's ledger: the batch id for a whole batch, and for a part one
    /// derived from the batch id and its number, the same for the same part on every delivery.
    /// </summary>
    public static Guid StoredId(Guid batch, int part, int parts)
    {
        if (parts == 1)
        {
            return batch;
        }

        Span<byte> bytes = stackalloc byte[20];
        batch.TryWriteBytes(bytes);
        BinaryPrimitives.WriteInt16LittleEndian(bytes[16..], (short)part);
        BinaryPrimitives.WriteInt16LittleEndian(bytes[18..], (short)parts);
        return new Guid(SHA256.HashData(bytes)[..16]);
    }

    /// <summary>
    /// Encodes the batch as one message, or as several of at most <paramref name="maxMessageBytes"/> each (less
    /// <see cref="Overhead"/>), cut between items.
    /// </summary>
    /// <exception cref="ArgumentException">One item alone does not fit in a message.</exception>
    public static List<(string MessageId, byte[] Payload)> Encode(Batch batch, int maxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, MinMessageBytes);
        var room = maxMessageBytes - Overhead - HeaderLength;

        // Every item one after the other, each behind its length; then the cuts between them.
        var scratch = new byte[Math.Max(1024, (int)Math.Min(int.MaxValue / 2, batch.Bytes * 2 + batch.Count * 64L))];
        var position = 0;
        var cuts = new List<(int Start, int End, int Items)>();
        var partStart = 0;
        var partItems = 0;
        foreach (var item in Items(batch))
        {
            var itemStart = position;
            var end = ItemCodec.Encode(item, ref scratch, itemStart + 4);
            BinaryPrimitives.WriteInt32LittleEndian(scratch.AsSpan(itemStart), end - itemStart - 4);
            if (end - itemStart > room)
            {
                throw new ArgumentException(
                    $"A {item.Size}-byte item encodes to {end - itemStart} bytes, more than a JetStream message of {maxMessageBytes} bytes " +
                    "holds: raise the stream's and the server's max message size, or lower --max-message-bytes.", nameof(batch));
            }

            if (end - partStart > room)
            {
                cuts.Add((partStart, itemStart, partItems));
                partStart = itemStart;
                partItems = 0;
            }

            partItems++;
            position = end;
        }

        cuts.Add((partStart, position, partItems));
        var parts = new List<(string, byte[])>(cuts.Count);
        for (var i = 0; i < cuts.Count; i++)
        {
            var (start, end, items) = cuts[i];
            var payload = new byte[HeaderLength + end - start];
            var body = scratch.AsSpan(start, end - start);
            body.CopyTo(payload.AsSpan(HeaderLength));
            WriteHeader(payload, batch.Id, i, cuts.Count, items);
            BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(32), Checksum(payload));
            parts.Add((MessageId(batch.Id, i, cuts.Count), payload));
        }

        return parts;
    }

    /// <summary>Reads a message back into the batch's id, the part's place among its parts, and its items.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a batch this version publishes; the message says how.</exception>
    public static (Guid Batch, int Part, int Parts, List<IngestItem> Items) Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < HeaderLength || !payload[..4].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"not a Spillway batch ({payload.Length} bytes that do not begin with SPWB)");
        }

        if (payload[4] != Version)
        {
            throw new InvalidDataException($"a batch of layout version {payload[4]}, which this version does not read");
        }

        var batch = new Guid(payload.Slice(8, 16));
        int part = BinaryPrimitives.ReadUInt16LittleEndian(payload[24..]);
        int parts = BinaryPrimitives.ReadUInt16LittleEndian(payload[26..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(payload[28..]);
        var body = payload[HeaderLength..];
        if (BinaryPrimitives.ReadUInt32LittleEndian(payload[32..]) != Checksum(payload))
        {
            throw new InvalidDataException("a batch whose checksum does not match its bytes");
        }

        if (parts == 0 || part >= parts || count < 0)
        {
            throw new InvalidDataException($"a batch that says it is part {part} of {parts} with {count} items");
        }

        var items = new List<IngestItem>(count);
        while (!body.IsEmpty)
        {
            var length = body.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(body) : -1;
            if (length < 0 || length > body.Length - 4)
            {
                throw new InvalidDataException("a batch whose items run past its end");
            }

            items.Add(ItemCodec.Decode(body.Slice(4, length)));
            body = body[(4 + length)..];
        }

        return items.Count == count
            ? (batch, part, parts, items)
            : throw new InvalidDataException($"a batch that says it holds {count} items and holds {items.Count}");
    }

    private static uint Checksum(ReadOnlySpan<byte> payload) => ~Crc32C.Append(Crc32C.Append(uint.MaxValue, payload[..32]), payload[HeaderLength..]);

    private static void WriteHeader(Span<byte> payload, Guid batch, int part, int parts, int items)
    {
        Magic.CopyTo(payload);
        payload[4] = Version;
        payload[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(payload[6..], 0);
        batch.TryWriteBytes(payload.Slice(8, 16));
        BinaryPrimitives.WriteUInt16LittleEndian(payload[24..], checked((ushort)part));
        BinaryPrimitives.WriteUInt16LittleEndian(payload[26..], checked((ushort)parts));
        BinaryPrimitives.WriteInt32LittleEndian(payload[28..], items);
    }

    private static IEnumerable<IngestItem> Items(Batch batch) => batch.Messages.Cast<IngestItem>().Concat(batch.Rejects);
}
