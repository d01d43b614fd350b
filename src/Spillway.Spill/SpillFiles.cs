using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Spillway.Spill;

/// <summary>A cut: the contiguous run of records that one batch was made of, under the batch's id.</summary>
/// <param name="First">The sequence number the batch starts at.</param>
/// <param name="Last">The sequence number it ends at (inclusive).</param>
/// <param name="Id">The batch's id, which the sink's ledger records with its rows.</param>
internal readonly record struct Cut(long First, long Last, Guid Id);

/// <summary>The checkpoint: every record before <paramref name="Next"/> is stored.</summary>
/// <param name="Generation">Counts the checkpoints written; the higher of the two slots is the newer.</param>
/// <param name="Next">The first sequence number not known to be stored.</param>
internal readonly record struct Checkpoint(long Generation, long Next);

/// <summary>
/// The files of a spill directory, besides the segments: the lock, two checkpoint slots written in turn (a torn
/// write of one leaves the other), the journal of cuts, and the quarantine of damaged bytes.
/// </summary>
internal static partial class SpillFiles
{
    public const string SegmentExtension = ".log";
    public const string CutsName = "cuts";
    public const string QuarantineName = "quarantine";
    private const string LockName = "lock";
    private const uint CheckpointMagic = 0x4B435053; // "SPCK"
    private const int CheckpointLength = 28;
    private const int CutLength = 40;

    /// <summary>Takes the directory for this process alone; throws <see cref="IOException"/> if another holds it.</summary>
    public static FileStream Lock(string directory) =>
        new(LockPath(directory), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

    public static string LockPath(string directory) => Path.Combine(directory, LockName);

    /// <summary>The segment files, ordered by the first sequence number each is named for.</summary>
    public static List<(long First, string Path)> Segments(string directory)
    {
        var segments = new List<(long, string)>();
        foreach (var path in Directory.EnumerateFiles(directory, "*" + SegmentExtension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var first))
            {
                segments.Add((first, path));
            }
        }

        segments.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return segments;
    }

    public static string SegmentPath(string directory, long first) =>
        Path.Combine(directory, first.ToString("D20", CultureInfo.InvariantCulture) + SegmentExtension);

    /// <summary>The newest checkpoint whose checksum holds, and the older slot's (null where a slot is missing or damaged).</summary>
    public static (Checkpoint? Newest, Checkpoint? Older, int Damaged) ReadCheckpoints(string directory)
    {
        var damaged = 0;
        var slots = new List<Checkpoint>(2);
        for (var slot = 0; slot < 2; slot++)
        {
            var path = CheckpointPath(directory, slot);
            if (!File.Exists(path))
            {
                continue;
            }

            var bytes = File.ReadAllBytes(path);
            if (bytes.Length == CheckpointLength
                && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == CheckpointMagic
                && BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(24)) == Crc32C.Compute(bytes.AsSpan(0, 24)))
            {
                slots.Add(new Checkpoint(
                    BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8)), BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(16))));
            }
            else
            {
                damaged++;
            }
        }

        slots.Sort((a, b) => b.Generation.CompareTo(a.Generation));
        return (slots.Count > 0 ? slots[0] : null, slots.Count > 1 ? slots[1] : null, damaged);
    }

    /// <summary>Writes the checkpoint over the older slot, fsynced when <paramref name="sync"/>.</summary>
    public static void WriteCheckpoint(string directory, Checkpoint checkpoint, bool sync)
    {
        Span<byte> bytes = stackalloc byte[CheckpointLength];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, CheckpointMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], 1);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], checkpoint.Generation);
        BinaryPrimitives.WriteInt64LittleEndian(bytes[16..], checkpoint.Next);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[24..], Crc32C.Compute(bytes[..24]));
        var path = CheckpointPath(directory, (int)(checkpoint.Generation % 2));
        using var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write);
        RandomAccess.Write(handle, bytes, 0);
        RandomAccess.SetLength(handle, CheckpointLength);
        if (sync)
        {
            RandomAccess.FlushToDisk(handle);
        }
    }

    /// <summary>Reads the journal of cuts: every entry whose checksum holds, in order, and how many did not.</summary>
    public static (List<Cut> Cuts, int Damaged) ReadCuts(string directory)
    {
        var cuts = new List<Cut>();
        var damaged = 0;
        var path = Path.Combine(directory, CutsName);
        if (!File.Exists(path))
        {
            return (cuts, 0);
        }

        var bytes = File.ReadAllBytes(path);
        for (var offset = 0; offset < bytes.Length; offset += CutLength)
        {
            var entry = bytes.AsSpan(offset, Math.Min(CutLength, bytes.Length - offset));
            if (entry.Length == CutLength && BinaryPrimitives.ReadUInt32LittleEndian(entry[32..]) == Crc32C.Compute(entry[..32]))
            {
                cuts.Add(new Cut(
                    BinaryPrimitives.ReadInt64LittleEndian(entry), BinaryPrimitives.ReadInt64LittleEndian(entry[8..]), new Guid(entry[16..32])));
            }
            else
            {
                damaged++;
            }
        }

        return (cuts, damaged);
    }

    /// <summary>Encodes one journal entry.</summary>
    public static void EncodeCut(Cut cut, Span<byte> entry)
    {
        BinaryPrimitives.WriteInt64LittleEndian(entry, cut.First);
        BinaryPrimitives.WriteInt64LittleEndian(entry[8..], cut.Last);
        cut.Id.TryWriteBytes(entry[16..32]);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[32..], Crc32C.Compute(entry[..32]));
        BinaryPrimitives.WriteUInt32LittleEndian(entry[36..], 0);
    }

    public const int CutEntryLength = CutLength;

    /// <summary>Replaces the journal with <paramref name="cuts"/> (written aside, fsynced, renamed over it).</summary>
    public static void RewriteCuts(string directory, IReadOnlyList<Cut> cuts)
    {
        var path = Path.Combine(directory, CutsName);
        var temp = path + ".new";
        var bytes = new byte[cuts.Count * CutLength];
        for (var i = 0; i < cuts.Count; i++)
        {
            EncodeCut(cuts[i], bytes.AsSpan(i * CutLength, CutLength));
        }

        using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(handle, bytes, 0);
            RandomAccess.FlushToDisk(handle);
        }

        File.Move(temp, path, overwrite: true);
        SyncDirectory(directory);
    }

    /// <summary>Keeps damaged bytes in the quarantine directory, named for where they were found; returns the file.</summary>
    public static string Quarantine(string directory, string segmentPath, long offset, ReadOnlySpan<byte> bytes)
    {
        var quarantine = Path.Combine(directory, QuarantineName);
        Directory.CreateDirectory(quarantine);
        var path = Path.Combine(quarantine,
            $"{Path.GetFileNameWithoutExtension(segmentPath)}-at-{offset.ToString(CultureInfo.InvariantCulture)}.bin");
        using (var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(handle, bytes, 0);
            RandomAccess.FlushToDisk(handle);
        }

        SyncDirectory(quarantine);
        return path;
    }

    /// <summary>Forces a directory's entries (files created, renamed, deleted) to the disk.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return; // Windows has no directory fsync; NTFS journals its metadata.
        }

        var fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Could not open directory {directory} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"Could not sync directory {directory} (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static string CheckpointPath(string directory, int slot) =>
        Path.Combine(directory, "checkpoint." + slot.ToString(CultureInfo.InvariantCulture));

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
