using System.Buffers.Binary;
using Spillway.Messages;

namespace Spillway.Spill;

/// <summary>A cut: the contiguous run of records that one batch was made of, under the batch's id.</summary>
/// <param name="First">The sequence number the batch starts at.</param>
/// <param name="Last">The sequence number it ends at (inclusive).</param>
/// <param name="Id">The batch's id, which the sink's ledger records with its rows.</param>
internal readonly record struct Cut(long First, long Last, Guid Id);

/// <summary>
/// The journal of cuts: each batch's run of records and id, appended before the batch goes to the sink, so that after a
/// crash the same runs are taken again under the same ids. Written through one handle held open, into space reserved
/// when the file is made (so that a full disk cannot stop the batches that would free it), and rewritten with only the
/// cuts still needed once it grows past <see cref="CompactAbove"/>.
/// </summary>
internal sealed class CutJournal : IDisposable
{
    public const string Name = "cuts";
    public const int EntryLength = 40;
    public const long CompactAbove = 1 << 20;

    private readonly ISpillFileSystem _files;
    private readonly string _directory;
    private readonly Action _syncDirectory;
    private readonly bool _sync;
    private readonly Lock _lock = new();
    private readonly List<Cut> _cuts;
    private ISpillFile _file;
    private long _length;

    private CutJournal(ISpillFileSystem files, string directory, Action syncDirectory, bool sync, List<Cut> cuts, ISpillFile file, long length)
    {
        _files = files;
        _directory = directory;
        _syncDirectory = syncDirectory;
        _sync = sync;
        _cuts = cuts;
        _file = file;
        _length = length;
    }

    private string FilePath => Path.Combine(_directory, Name);

    /// <summary>
    /// Opens the journal holding <paramref name="cuts"/> (those still to be taken again): rewritten afresh with its space
    /// reserved, or, when the disk has no room for that, the journal found kept and appended to.
    /// </summary>
    public static CutJournal Open(ISpillFileSystem files, string directory, Action syncDirectory, bool sync, IReadOnlyList<Cut> cuts)
    {
        var path = Path.Combine(directory, Name);
        ISpillFile file;
        try
        {
            file = Rewrite(files, directory, cuts);
            syncDirectory();
        }
        catch (IOException ex) when (SpillErrors.Classify(ex) == SpillFault.Full)
        {
            // Recovery read every entry of the old journal and keeps reading them all: appending to it is as exact.
            file = files.Open(path, SpillFileMode.OpenOrCreate);
        }

        return new CutJournal(files, directory, syncDirectory, sync, [.. cuts], file, file.Length / EntryLength * EntryLength);
    }

    /// <summary>Reads the journal: every entry whose checksum holds, in order, and how many did not.</summary>
    public static (List<Cut> Cuts, int Damaged) Read(ISpillFileSystem files, string directory)
    {
        var cuts = new List<Cut>();
        var damaged = 0;
        var path = Path.Combine(directory, Name);
        if (!files.Exists(path))
        {
            return (cuts, 0);
        }

        using var file = files.Open(path, SpillFileMode.Read);
        var entry = new byte[EntryLength];
        for (long offset = 0; ; offset += EntryLength)
        {
            var read = ReadFully(file, entry, offset);
            if (read == 0)
            {
                break;
            }

            if (read == EntryLength && BinaryPrimitives.ReadUInt32LittleEndian(entry.AsSpan(32)) == Crc32C.Compute(entry.AsSpan(0, 32)))
            {
                cuts.Add(new Cut(
                    BinaryPrimitives.ReadInt64LittleEndian(entry), BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(8)), new Guid(entry.AsSpan(16, 16))));
            }
            else
            {
                damaged++;
            }

            if (read < EntryLength)
            {
                break;
            }
        }

        return (cuts, damaged);
    }

    /// <summary>Appends a cut; with the batch fsync policy it is on disk before this returns.</summary>
    public void Append(Cut cut)
    {
        Span<byte> entry = stackalloc byte[EntryLength];
        Encode(cut, entry);
        lock (_lock)
        {
            _file.Write(entry, _length);
            if (_sync)
            {
                // On disk before its batch can be stored, or a power loss could replay it under a new id.
                _file.Flush();
            }

            _length += EntryLength;
            _cuts.Add(cut);
        }
    }

    /// <summary>Once the journal is large, rewrites it with only the cuts at or after <paramref name="keepFrom"/>.</summary>
    public void CompactIfLarge(long keepFrom)
    {
        lock (_lock)
        {
            if (_length <= CompactAbove)
            {
                return;
            }

            var kept = _cuts.Where(c => c.Last >= keepFrom).ToList();
            var file = Rewrite(_files, _directory, kept); // throws before anything changes
            _file.Dispose();
            _file = file;
            _length = kept.Count * EntryLength;
            _cuts.Clear();
            _cuts.AddRange(kept);
            _syncDirectory(); // the rename, durable; if this fails the journal in use is already the new one
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file.Dispose();
        }
    }

    private static void Encode(Cut cut, Span<byte> entry)
    {
        BinaryPrimitives.WriteInt64LittleEndian(entry, cut.First);
        BinaryPrimitives.WriteInt64LittleEndian(entry[8..], cut.Last);
        cut.Id.TryWriteBytes(entry[16..32]);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[32..], Crc32C.Compute(entry[..32]));
        BinaryPrimitives.WriteUInt32LittleEndian(entry[36..], 0);
    }

    /// <summary>
    /// Writes the cuts to a new file with room reserved for <see cref="CompactAbove"/> more, fsynced and renamed over the
    /// journal; the caller syncs the directory. On failure the old journal is untouched and no new file is left.
    /// </summary>
    private static ISpillFile Rewrite(ISpillFileSystem files, string directory, IReadOnlyList<Cut> cuts)
    {
        var path = Path.Combine(directory, Name);
        var temp = path + ".new";
        var bytes = new byte[cuts.Count * EntryLength];
        for (var i = 0; i < cuts.Count; i++)
        {
            Encode(cuts[i], bytes.AsSpan(i * EntryLength, EntryLength));
        }

        ISpillFile? file = null;
        try
        {
            file = files.Open(temp, SpillFileMode.Create, preallocate: bytes.Length + CompactAbove + EntryLength);
            file.Write(bytes, 0);
            file.Flush();
            files.Move(temp, path);
            return file;
        }
        catch
        {
            file?.Dispose();
            TryDelete(files, temp);
            throw;
        }
    }

    private static void TryDelete(ISpillFileSystem files, string path)
    {
        try
        {
            files.Delete(path);
        }
        catch (IOException)
        {
            // Left for the next start, which writes over it.
        }
    }

    private static int ReadFully(ISpillFile file, byte[] buffer, long offset)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var n = file.Read(buffer.AsSpan(done), offset + done);
            if (n == 0)
            {
                break;
            }

            done += n;
        }

        return done;
    }
}
