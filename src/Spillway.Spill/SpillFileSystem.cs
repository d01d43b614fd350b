using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Spillway.Spill;

/// <summary>How <see cref="ISpillFileSystem.Open"/> opens a file.</summary>
internal enum SpillFileMode
{
    /// <summary>An existing file, for reading.</summary>
    Read,

    /// <summary>An existing file, for writing.</summary>
    Write,

    /// <summary>A file that must not exist yet, for writing.</summary>
    CreateNew,

    /// <summary>A file made anew (emptied if it exists), for writing.</summary>
    Create,

    /// <summary>A file for writing, created if missing.</summary>
    OpenOrCreate,
}

/// <summary>An open file of the spill log: positioned reads and writes, its length, and fsync.</summary>
internal interface ISpillFile : IDisposable
{
    string Path { get; }

    long Length { get; }

    /// <summary>Reads up to <paramref name="buffer"/>'s length at <paramref name="offset"/>; 0 at the end.</summary>
    int Read(Span<byte> buffer, long offset);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>, or throws (having written any part of it).</summary>
    void Write(ReadOnlySpan<byte> data, long offset);

    void SetLength(long length);

    /// <summary>Forces what was written to the disk (fsync).</summary>
    void Flush();
}

/// <summary>
/// The few filesystem operations the spill log performs, as one seam: the operating system's in the service, one
/// that fails on demand (no space, no descriptors, an I/O error, a short write) in the tests.
/// </summary>
internal interface ISpillFileSystem
{
    /// <summary>Opens a file; with <paramref name="preallocate"/> above 0 (and a mode that creates), reserves that many bytes for it.</summary>
    ISpillFile Open(string path, SpillFileMode mode, long preallocate = 0);

    /// <summary>Opens a directory so that its entries (files created, renamed, deleted) can be forced to the disk.</summary>
    IDisposable OpenDirectory(string path, out Action flush);

    /// <summary>Takes a file for this process alone; throws <see cref="IOException"/> if another holds it.</summary>
    IDisposable Lock(string path);

    bool Exists(string path);

    void Delete(string path);

    /// <summary>Renames <paramref name="source"/> over <paramref name="destination"/>.</summary>
    void Move(string source, string destination);

    IReadOnlyList<string> List(string directory, string pattern);

    void CreateDirectory(string path);

    /// <summary>Bytes an unprivileged process may still write on the filesystem that holds <paramref name="directory"/>; null where unknown.</summary>
    long? AvailableBytes(string directory);
}

/// <summary>The operating system's files.</summary>
internal sealed partial class OsFileSystem : ISpillFileSystem
{
    public static OsFileSystem Instance { get; } = new();

    public ISpillFile Open(string path, SpillFileMode mode, long preallocate = 0)
    {
        var (fileMode, access, share) = mode switch
        {
            SpillFileMode.Read => (FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete),
            SpillFileMode.Write => (FileMode.Open, FileAccess.Write, FileShare.Read | FileShare.Delete),
            SpillFileMode.CreateNew => (FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete),
            SpillFileMode.Create => (FileMode.Create, FileAccess.Write, FileShare.Read | FileShare.Delete),
            SpillFileMode.OpenOrCreate => (FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read | FileShare.Delete),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
        try
        {
            return new OsFile(path, File.OpenHandle(path, fileMode, access, share, FileOptions.None, preallocate));
        }
        catch (IOException ex) when (preallocate > 0 && ex.HResult is not (SpillErrors.ENOSPC or SpillErrors.EMFILE or SpillErrors.ENFILE)
                                     && ex.Message.Contains("allocation size", StringComparison.Ordinal))
        {
            // .NET reports a failed preallocation without its errno; it fails only for lack of space or for a file too large.
            throw new IOException(ex.Message, SpillErrors.ENOSPC);
        }
    }

    public IDisposable OpenDirectory(string path, out Action flush)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            flush = static () => { }; // Windows has no directory fsync; NTFS journals its metadata.
            return new Nothing();
        }

        var fd = OpenRaw(path, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Could not open directory {path} ({Marshal.GetPInvokeErrorMessage(errno)})", errno);
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        flush = () =>
        {
            if (FsyncRaw((int)handle.DangerousGetHandle()) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"Could not sync directory {path} ({Marshal.GetPInvokeErrorMessage(errno)})", errno);
            }
        };
        return handle;
    }

    public IDisposable Lock(string path) => new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

    public bool Exists(string path) => File.Exists(path);

    public void Delete(string path) => File.Delete(path);

    public void Move(string source, string destination) => File.Move(source, destination, overwrite: true);

    public IReadOnlyList<string> List(string directory, string pattern) =>
        Directory.Exists(directory) ? Directory.GetFiles(directory, pattern) : [];

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public long? AvailableBytes(string directory)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess)
        {
            return null;
        }

        // struct statvfs on 64-bit Linux: f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ... each 8 bytes.
        Span<ulong> buffer = stackalloc ulong[32];
        if (StatVfs(directory, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            return null;
        }

        return (long)Math.Min(buffer[1] * buffer[4], long.MaxValue);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenRaw(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncRaw(int fd);

    [LibraryImport("libc", EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatVfs(string path, ref ulong buffer);

    private sealed class Nothing : IDisposable
    {
        public void Dispose()
        {
        }
    }

    private sealed class OsFile(string path, SafeFileHandle handle) : ISpillFile
    {
        public string Path { get; } = path;

        public long Length => RandomAccess.GetLength(handle);

        public int Read(Span<byte> buffer, long offset) => RandomAccess.Read(handle, buffer, offset);

        public void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(handle, data, offset);

        public void SetLength(long length) => RandomAccess.SetLength(handle, length);

        public void Flush() => RandomAccess.FlushToDisk(handle);

        public void Dispose() => handle.Dispose();
    }
}
