using System.Runtime.InteropServices;

namespace Spillway.Sinks.Sqlite;

/// <summary>
/// A file's device and inode, from stat(2): which file a path names right now. The sink compares it after each
/// commit with the one it opened, to notice a database deleted or replaced (<c>rm</c>, <c>mv</c> of a copy over it)
/// under the running service, which SQLite itself goes on writing into without a word.
/// </summary>
internal readonly partial record struct FileIdentity(ulong Device, ulong Inode)
{
    private static bool _unavailable;

    /// <summary>What <paramref name="path"/> names now; null when nothing is there, or stat(2) cannot be called here.</summary>
    public static FileIdentity? Of(string path)
    {
        if (_unavailable || OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            // st_dev and st_ino open struct stat on Linux x86-64 and arm64 alike; the rest is room for what follows.
            return Stat(path, out var buffer) == 0 ? new FileIdentity(buffer.Device, buffer.Inode) : null;
        }
        catch (EntryPointNotFoundException)
        {
            _unavailable = true; // a C library older than glibc 2.33 exports no stat symbol: the check is off
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, out StatBuffer buffer);

    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct StatBuffer
    {
        public ulong Device;
        public ulong Inode;
    }
}
