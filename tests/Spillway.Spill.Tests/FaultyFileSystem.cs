namespace Spillway.Spill.Tests;

/// <summary>What <see cref="FaultyFileSystem"/> makes an operation do.</summary>
public enum FileFault
{
    /// <summary>ENOSPC, from an operation that needs space: a write, a create, a rename, a new directory.</summary>
    NoSpace,

    /// <summary>EMFILE, from an operation that needs a descriptor: an open of a file or directory, a lock.</summary>
    NoDescriptors,

    /// <summary>A write that puts down the first part of its bytes, then fails with ENOSPC, as a disk filling mid-write does.</summary>
    ShortWrite,

    /// <summary>EIO, from any operation: a read, a write, an fsync, a truncate, a rename, a delete.</summary>
    IoError,
}

/// <summary>
/// The operating system's files, with a fault injected at a chosen operation: the <see cref="FailAt"/>-th operation the
/// fault applies to, and the <see cref="FailCount"/> - 1 such operations after it, fail as <see cref="Fault"/> says;
/// every other operation is the real one. Deterministic for a given sequence of calls, and thread-safe.
/// </summary>
internal sealed class FaultyFileSystem : ISpillFileSystem
{
    private readonly OsFileSystem _inner = OsFileSystem.Instance;
    private int _eligible;
    private int _failed;

    public FaultyFileSystem(FileFault fault, int failAt, int failCount = 1)
    {
        Fault = fault;
        FailAt = failAt;
        FailCount = failCount;
    }

    public FileFault Fault { get; }

    public int FailAt { get; private set; }

    public int FailCount { get; private set; }

    /// <summary>Fails the next <paramref name="count"/> operations the fault applies to (a test's hand on the moment).</summary>
    public void FailFromNext(int count)
    {
        lock (Log)
        {
            FailCount = count;
            FailAt = Eligible + 1;
        }
    }

    /// <summary>Operations the fault could have applied to so far.</summary>
    public int Eligible => Volatile.Read(ref _eligible);

    /// <summary>Operations failed so far.</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>Each failed operation, by name and path, for a failing test to say where it struck.</summary>
    public List<string> Log { get; } = [];

    public ISpillFile Open(string path, SpillFileMode mode, long preallocate = 0)
    {
        var creates = mode is not (SpillFileMode.Read or SpillFileMode.Write);
        Strike(Fault is FileFault.NoDescriptors or FileFault.IoError || (Fault == FileFault.NoSpace && (creates || preallocate > 0)), "open(" + mode + ")", path);
        return new File(this, _inner.Open(path, mode, preallocate));
    }

    public IDisposable OpenDirectory(string path, out Action flush)
    {
        Strike(Fault is FileFault.NoDescriptors or FileFault.IoError, "opendir", path);
        var directory = _inner.OpenDirectory(path, out var inner);
        flush = () =>
        {
            Strike(Fault == FileFault.IoError, "fsyncdir", path);
            inner();
        };
        return directory;
    }

    public IDisposable Lock(string path)
    {
        Strike(Fault is FileFault.NoDescriptors or FileFault.IoError, "lock", path);
        return _inner.Lock(path);
    }

    public bool Exists(string path) => _inner.Exists(path);

    public void Delete(string path)
    {
        Strike(Fault == FileFault.IoError, "unlink", path);
        _inner.Delete(path);
    }

    public void Move(string source, string destination)
    {
        Strike(Fault is FileFault.NoSpace or FileFault.IoError, "rename", source);
        _inner.Move(source, destination);
    }

    public IReadOnlyList<string> List(string directory, string pattern)
    {
        Strike(Fault is FileFault.NoDescriptors or FileFault.IoError, "list", directory);
        return _inner.List(directory, pattern);
    }

    public void CreateDirectory(string path)
    {
        Strike(Fault is FileFault.NoSpace or FileFault.IoError, "mkdir", path);
        _inner.CreateDirectory(path);
    }

    public long? AvailableBytes(string directory) => _inner.AvailableBytes(directory);

    /// <summary>Counts an operation the fault applies to, and fails it if its turn has come.</summary>
    private void Strike(bool applies, string operation, string path) => Strike(applies, operation, path, partial: null);

    private void Strike(bool applies, string operation, string path, Action? partial)
    {
        if (!applies || !Turn())
        {
            return;
        }

        partial?.Invoke();
        lock (Log)
        {
            Log.Add($"{operation} {Path.GetFileName(path)}: {Fault}");
        }

        throw Fault switch
        {
            FileFault.NoSpace or FileFault.ShortWrite => new IOException("No space left on device : '" + path + "'", SpillErrors.ENOSPC),
            FileFault.NoDescriptors => new IOException("Too many open files : '" + path + "'", SpillErrors.EMFILE),
            _ => new IOException("Input/output error : '" + path + "'", SpillErrors.EIO),
        };
    }

    private bool Turn()
    {
        var n = Interlocked.Increment(ref _eligible);
        if (n < FailAt || n >= FailAt + FailCount)
        {
            return false;
        }

        Interlocked.Increment(ref _failed);
        return true;
    }

    private sealed class File(FaultyFileSystem files, ISpillFile inner) : ISpillFile
    {
        public string Path => inner.Path;

        public long Length => inner.Length;

        public int Read(Span<byte> buffer, long offset)
        {
            files.Strike(files.Fault == FileFault.IoError, "read", Path);
            return inner.Read(buffer, offset);
        }

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            if (files.Fault == FileFault.ShortWrite && data.Length > 1)
            {
                var prefix = data[..(data.Length / 2)].ToArray();
                files.Strike(true, "write", Path, () => inner.Write(prefix, offset));
            }
            else
            {
                files.Strike(files.Fault is FileFault.NoSpace or FileFault.IoError, "write", Path);
            }

            inner.Write(data, offset);
        }

        public void SetLength(long length)
        {
            files.Strike(files.Fault == FileFault.IoError, "truncate", Path);
            inner.SetLength(length);
        }

        public void Flush()
        {
            files.Strike(files.Fault == FileFault.IoError, "fsync", Path);
            inner.Flush();
        }

        public void Dispose() => inner.Dispose();
    }
}
