using System.Text;
using Spillway.Checks;

namespace Spillway.Sinks.Sqlite;

/// <summary>What would keep the SQLite sink from opening its file, found without creating or changing the database.</summary>
public static class SqliteCheck
{
    private static readonly byte[] Header = Encoding.ASCII.GetBytes("SQLite format 3\0");

    /// <summary>
    /// Checks that the database file is a SQLite database this user can read and write, or that it can be created;
    /// and that its directory takes new files (the write-ahead log and its index live beside it).
    /// </summary>
    /// <remarks>
    /// Call it before this process opens the database: closing any descriptor of a file drops every POSIX lock the
    /// process holds on it, SQLite's own included.
    /// </remarks>
    public static CheckReport Check(SqliteSinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var report = new CheckReport();
        var path = Path.GetFullPath(options.Path);
        if (Directory.Exists(path))
        {
            report.Problem($"the SQLite database '{path}' is a directory");
            return report;
        }

        if (File.Exists(path))
        {
            try
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                var start = new byte[Header.Length];
                var read = file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false);
                // An empty file is one SQLite makes into a database; anything else must start with its header.
                if (read > 0 && !start.AsSpan(0, read).SequenceEqual(Header))
                {
                    report.Problem($"the SQLite database '{path}' is not a SQLite database (it does not start with the SQLite header)");
                }
            }
            catch (UnauthorizedAccessException)
            {
                report.Problem($"the SQLite database '{path}' cannot be read and written by this user ({Environment.UserName})");
            }
            catch (IOException ex)
            {
                report.Problem($"the SQLite database '{path}' cannot be opened: {ex.Message}");
            }
        }

        if (File.Exists(path) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & DirectoryCheck.GroupOrOther) != 0)
        {
            report.Warning($"the SQLite database '{path}' can be read by other users of this machine " +
                $"(mode {DirectoryCheck.Octal(File.GetUnixFileMode(path))}): chmod 600 it, and its -wal and -shm files");
        }

        if (DirectoryCheck.CannotWrite(Path.GetDirectoryName(path) ?? "/", "the SQLite database's directory") is { } problem)
        {
            report.Problem(problem);
        }
        else if (report.Problems.Count == 0)
        {
            report.Fact(File.Exists(path)
                ? $"SQLite database {path}: {new FileInfo(path).Length} bytes, readable and writable"
                : $"SQLite database {path}: created at the first start");
        }

        return report;
    }
}
