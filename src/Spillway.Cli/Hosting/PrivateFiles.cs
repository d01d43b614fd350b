using System.Runtime.InteropServices;

namespace Spillway.Cli.Hosting;

/// <summary>
/// What <c>serve</c> stores is for the service alone: before it creates anything, it sets its umask to 077, as
/// PostgreSQL does for its data directory, so the database, its WAL and shared-memory files, the spill directory and
/// everything in it are created 0600 and 0700 whatever umask it was started with (022 under systemd by default).
/// </summary>
internal static partial class PrivateFiles
{
    /// <summary>No group or other bits on anything created.</summary>
    public const uint Umask = 0b000_111_111; // 077

    /// <summary>Sets the process's umask; returns the one it replaced.</summary>
    public static uint Apply() => OperatingSystem.IsWindows() ? 0 : SetUmask(Umask);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint SetUmask(uint mask);
}
