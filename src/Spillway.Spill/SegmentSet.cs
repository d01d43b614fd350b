namespace Spillway.Spill;

/// <summary>A segment file as the log knows it.</summary>
internal sealed class Segment(long first, string path, long length)
{
    private long _length = length;

    public long First { get; } = first;

    public string Path { get; } = path;

    /// <summary>Bytes of whole records written to it: a reader may read up to here. Grows only after a write has succeeded.</summary>
    public long Length
    {
        get => Volatile.Read(ref _length);
        set => Volatile.Write(ref _length, value);
    }
}

/// <summary>
/// The segment files, oldest first: the one being appended to (its handle held by the flusher alone) and the ones
/// before it, each deleted once every record in it is stored. Thread-safe; the writing members are the flusher's.
/// </summary>
internal sealed class SegmentSet : IDisposable
{
    public const string Extension = ".log";

    private readonly ISpillFileSystem _files;
    private readonly string _directory;
    private readonly Action _syncDirectory;
    private readonly Lock _lock = new();
    private readonly List<Segment> _segments;
    private ISpillFile? _active;
    private long _bytes;

    public SegmentSet(ISpillFileSystem files, string directory, Action syncDirectory, List<Segment> segments)
    {
        _files = files;
        _directory = directory;
        _syncDirectory = syncDirectory;
        _segments = segments;
        _bytes = segments.Sum(s => s.Length);
    }

    /// <summary>Bytes of records in the segment files now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Bytes of records in the newest segment, the one appended to.</summary>
    public long ActiveLength
    {
        get
        {
            lock (_lock)
            {
                return _segments.Count > 0 ? _segments[^1].Length : 0;
            }
        }
    }

    /// <summary>Set by the flusher when what it wrote to the active segment is not yet fsynced.</summary>
    public bool Unsynced { get; set; }

    public static string PathOf(string directory, long first) =>
        System.IO.Path.Combine(directory, first.ToString("D20", System.Globalization.CultureInfo.InvariantCulture) + Extension);

    /// <summary>The segment a reader at <paramref name="next"/> reads from, and whether it is the newest; null when there is none.</summary>
    public (Segment Segment, bool IsLast)? ForReading(long next, long? current)
    {
        lock (_lock)
        {
            var segment = _segments.LastOrDefault(s => s.First <= next) ?? _segments.FirstOrDefault();
            if (current is { } first && _segments.Find(s => s.First == first) is { } open && (segment is null || open.First >= segment.First))
            {
                segment = open;
            }

            return segment is null ? null : (segment, ReferenceEquals(segment, _segments[^1]));
        }
    }

    /// <summary>The segment after <paramref name="segment"/>.</summary>
    public Segment Following(Segment segment)
    {
        lock (_lock)
        {
            return _segments.Find(s => s.First > segment.First)
                ?? throw new InvalidOperationException($"No segment follows {segment.Path}.");
        }
    }

    /// <summary>
    /// The segment to append records from <paramref name="first"/> to, and its handle: the newest while it is under
    /// <paramref name="segmentBytes"/>, else a new one (the old one fsynced first unless <paramref name="sync"/> is false).
    /// </summary>
    public (Segment Segment, ISpillFile File) Active(long first, long segmentBytes, bool sync)
    {
        Segment? current;
        lock (_lock)
        {
            current = _segments.Count > 0 ? _segments[^1] : null;
        }

        if (current is not null && current.Length < segmentBytes)
        {
            _active ??= _files.Open(current.Path, SpillFileMode.Write);
            return (current, _active);
        }

        if (_active is not null)
        {
            if (Unsynced && sync)
            {
                _active.Flush();
            }

            Unsynced = false;
            _active.Dispose();
            _active = null;
        }

        // Made anew (not CreateNew): a failed earlier attempt may have left the empty file behind, never any record.
        var segment = new Segment(first, PathOf(_directory, first), 0);
        var file = _files.Open(segment.Path, SpillFileMode.Create);
        try
        {
            _syncDirectory();
        }
        catch
        {
            file.Dispose();
            TryDelete(segment.Path);
            throw;
        }

        _active = file;
        lock (_lock)
        {
            _segments.Add(segment);
        }

        return (segment, file);
    }

    /// <summary>Counts bytes written to the active segment; readers may read them from now on.</summary>
    public void Grow(Segment segment, long bytes)
    {
        segment.Length += bytes;
        Interlocked.Add(ref _bytes, bytes);
    }

    /// <summary>Forces the active segment to the disk, if anything written to it is not yet.</summary>
    public void Sync()
    {
        if (Unsynced && _active is not null)
        {
            _active.Flush();
        }

        Unsynced = false;
    }

    /// <summary>
    /// Deletes the segments whose records all lie before <paramref name="checkpoint"/>, or every segment with
    /// <paramref name="includingActive"/> (all stored); returns the bytes freed.
    /// </summary>
    public long DeleteBefore(long checkpoint, bool includingActive)
    {
        List<Segment> deletable = [];
        lock (_lock)
        {
            for (var i = 0; i < _segments.Count; i++)
            {
                if (includingActive || (i + 1 < _segments.Count && _segments[i + 1].First <= checkpoint))
                {
                    deletable.Add(_segments[i]);
                }
            }
        }

        if (deletable.Count == 0)
        {
            return 0;
        }

        long freed = 0;
        foreach (var segment in deletable)
        {
            if (includingActive && ReferenceEquals(segment, deletable[^1]))
            {
                _active?.Dispose();
                _active = null;
                Unsynced = false;
            }

            _files.Delete(segment.Path);
            lock (_lock)
            {
                _segments.Remove(segment);
            }

            freed += segment.Length;
            Interlocked.Add(ref _bytes, -segment.Length);
        }

        return freed;
    }

    public void Dispose() => _active?.Dispose();

    private void TryDelete(string path)
    {
        try
        {
            _files.Delete(path);
        }
        catch (IOException)
        {
            // Left empty; recovery deletes an empty segment.
        }
    }
}
