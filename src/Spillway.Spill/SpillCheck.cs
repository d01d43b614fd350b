using Spillway.Checks;

namespace Spillway.Spill;

/// <summary>
/// What would keep a spill log from opening, or make it fail later, found without opening it: the directory must be
/// writable and not held by another process, and the disk should have room for the budget.
/// </summary>
public static class SpillCheck
{
    /// <summary>Checks the spill directory of <paramref name="options"/>, creating and changing nothing.</summary>
    public static CheckReport Check(SpillOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var report = new CheckReport();
        var directory = Path.GetFullPath(options.Directory);
        if (File.Exists(directory))
        {
            report.Problem($"the spill directory '{directory}' is a file, not a directory");
            return report;
        }

        if (DirectoryCheck.CannotWrite(directory, "the spill directory") is { } problem)
        {
            report.Problem(problem);
            return report;
        }

        if (Directory.Exists(directory) && HeldByAnother(directory) is { } holder)
        {
            report.Problem($"cannot open the spill log '{directory}': another process holds it ({holder}); is another spillway serve running?");
        }

        if (Directory.Exists(directory) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(directory) & DirectoryCheck.GroupOrOther) != 0)
        {
            report.Warning($"the spill directory '{directory}' can be entered by other users of this machine " +
                $"(mode {DirectoryCheck.Octal(File.GetUnixFileMode(directory))}): chmod 700 it");
        }

        // Records already in the log count against the budget and are on the disk already.
        var held = Directory.Exists(directory)
            ? new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
            : 0;
        var free = new DriveInfo(DirectoryCheck.NearestExisting(directory)).AvailableFreeSpace;
        if (held + free < options.MaxBytes)
        {
            report.Warning(
                $"the spill log's budget of {Size(options.MaxBytes)} is more than its filesystem has: {Size(free)} free, plus {Size(held)} " +
                $"in the log: the log keeps to what the disk has (a full disk pushes TCP back, answers HTTP 503 and drops UDP, as a " +
                $"spent budget does); lower --spill-max-bytes, or free space, to say so yourself");
        }

        report.Fact($"spill log {directory}: {Size(held)} held, {Size(free)} free on its filesystem, budget {Size(options.MaxBytes)}");
        return report;
    }

    private static string? HeldByAnother(string directory)
    {
        var lockPath = SpillFiles.LockPath(directory);
        if (!File.Exists(lockPath))
        {
            return null;
        }

        try
        {
            using (OsFileSystem.Instance.Lock(lockPath))
            {
                return null;
            }
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
        catch (UnauthorizedAccessException)
        {
            return $"its lock file '{lockPath}' cannot be opened by this user";
        }
    }

    private static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.#} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.#} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):0.#} KiB",
        _ => $"{bytes} B",
    };
}
