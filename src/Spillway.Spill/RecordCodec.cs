using System.Buffers.Binary;
using Spillway.Messages;

namespace Spillway.Spill;

/// <summary>
/// The bytes of one record in a segment file, little-endian:
/// <c>u32 payload length | u32 CRC-32C | u64 sequence number | payload</c>. The checksum covers the length, the
/// sequence number and the payload, so a torn write, a flipped bit or a stray length is found before it is believed.
/// The payload is one <see cref="IngestItem"/> as <see cref="ItemCodec"/> writes it (so a spill log of before reads back
/// here unchanged; an earlier version quarantines a record with a client, whose bytes it does not know).
/// </summary>
internal static class RecordCodec
{
    /// <summary>The header's length: payload length, checksum, sequence number.</summary>
    public const int HeaderLength = 16;

    /// <summary>
    /// The largest payload a record may have. A header that claims more is damage, not a record: the bound keeps a
    /// flipped bit in a length from sending the reader past the data.
    /// </summary>
    public const int MaxPayloadLength = 64 * 1024 * 1024;

    /// <summary>
    /// Writes the item's payload into <paramref name="scratch"/> after room for the header (grown as needed), and
    /// returns the record's whole length. <see cref="Seal"/> then fills in the header once the sequence number is known.
    /// </summary>
    public static int Encode(IngestItem item, ref byte[] scratch) => ItemCodec.Encode(item, ref scratch, HeaderLength);

    /// <summary>Fills in the header of an encoded record (the whole of <paramref name="record"/>) with its sequence number.</summary>
    public static void Seal(Span<byte> record, long sequence)
    {
        BinaryPrimitives.WriteInt32LittleEndian(record, record.Length - HeaderLength);
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Checksum(record));
    }

    /// <summary>The checksum a whole record (header and payload) should carry.</summary>
    public static uint Checksum(ReadOnlySpan<byte> record) =>
        ~Crc32C.Append(Crc32C.Append(uint.MaxValue, record[..4]), record[8..]);

    /// <summary>The frame size an encoded item counts against the bounds, read without decoding the rest.</summary>
    public static int FrameSize(ReadOnlySpan<byte> payload) => ItemCodec.FrameSize(payload);

    /// <summary>Reads the item back from a payload whose checksum has been verified.</summary>
    /// <exception cref="InvalidDataException">The payload is not an item this version writes.</exception>
    public static IngestItem Decode(ReadOnlySpan<byte> payload) => ItemCodec.Decode(payload);
}
