using System.Buffers.Binary;
using System.Globalization;
using Spillway.Messages;

namespace Spillway.Spill;

/// <summary>The checkpoint: every record before <paramref name="Next"/> is stored.</summary>
/// <param name="Generation">Counts the checkpoints written; the higher of the two slots is the newer.</param>
/// <param name="Next">The first sequence number not known to be stored.</param>
internal readonly record struct Checkpoint(long Generation, long Next);

/// <summary>
/// The two checkpoint slots, written in turn so that a torn write of one leaves the other. Both files are opened once
/// and held: persisting a checkpoint opens nothing, so it cannot fail for lack of file descriptors.
/// </summary>
internal sealed class CheckpointStore : IDisposable
{
    private const uint Magic = 0x4B435053; // "SPCK"
    private const int Length = 28;

    private readonly ISpillFile[] _slots;
    private readonly bool _sync;

    private CheckpointStore(ISpillFile[] slots, Checkpoint persisted, Checkpoint? older, bool sync)
    {
        _slots = slots;
        Persisted = persisted;
        Older = older;
        _sync = sync;
    }

    /// <summary>The checkpoint last written (or found at the start).</summary>
    public Checkpoint Persisted { get; private set; }

    /// <summary>The one before it, which the other slot still holds.</summary>
    public Checkpoint? Older { get; private set; }

    public static CheckpointStore Open(ISpillFileSystem files, string directory, Checkpoint persisted, Checkpoint? older, bool sync)
    {
        var slots = new ISpillFile[2];
        try
        {
            for (var slot = 0; slot < 2; slot++)
            {
                slots[slot] = files.Open(PathOf(directory, slot), SpillFileMode.OpenOrCreate);
            }
        }
        catch
        {
            foreach (var opened in slots)
            {
                opened?.Dispose();
            }

            throw;
        }

        return new CheckpointStore(slots, persisted, older, sync);
    }

    /// <summary>The newest checkpoint whose checksum holds, and the older slot's (null where a slot is missing or damaged).</summary>
    public static (Checkpoint? Newest, Checkpoint? Older, int Damaged) Read(ISpillFileSystem files, string directory)
    {
        var damaged = 0;
        var found = new List<Checkpoint>(2);
        Span<byte> bytes = stackalloc byte[Length + 1];
        for (var slot = 0; slot < 2; slot++)
        {
            var path = PathOf(directory, slot);
            if (!files.Exists(path))
            {
                continue;
            }

            int read;
            using (var file = files.Open(path, SpillFileMode.Read))
            {
                read = file.Read(bytes, 0);
            }

            if (read == Length
                && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == Magic
                && BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..]) == Crc32C.Compute(bytes[..24]))
            {
                found.Add(new Checkpoint(BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[16..])));
            }
            else if (read > 0)
            {
                damaged++;
            }
        }

        found.Sort((a, b) => b.Generation.CompareTo(a.Generation));
        return (found.Count > 0 ? found[0] : null, found.Count > 1 ? found[1] : null, damaged);
    }

    /// <summary>Writes a checkpoint at <paramref name="next"/> over the older slot (fsynced unless the policy is never).</summary>
    public void Write(long next)
    {
        var checkpoint = new Checkpoint(Persisted.Generation + 1, next);
        Span<byte> bytes = stackalloc byte[Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], 1);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], checkpoint.Generation);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[16..], checkpoint.Next);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[24..], Crc32C.Compute(bytes[..24]));
        var slot = _slots[(int)(checkpoint.Generation % 2)];
        slot.Write(bytes, 0);
        if (slot.Length != Length)
        {
            slot.SetLength(Length);
        }

        if (_sync)
        {
            slot.Flush();
        }

        Older = Persisted;
        Persisted = checkpoint;
    }

    public void Dispose()
    {
        foreach (var slot in _slots)
        {
            slot.Dispose();
        }
    }

    private static string PathOf(string directory, int slot) =>
        Path.Combine(directory, "checkpoint." + slot.ToString(CultureInfo.InvariantCulture));
}
