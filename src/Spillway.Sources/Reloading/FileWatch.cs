namespace Spillway.Reloading;

/// <summary>
/// Calls back once a set of files has changed and then been still for a while. It watches the files' directories, not
/// the files, so that a file replaced by a rename or a symlink swap is seen too, and each change restarts the wait, so
/// that files written one after the other (a certificate and its key) are read once, together.
/// </summary>
public sealed class FileWatch : IDisposable
{
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly ITimer _settle;
    private readonly TimeSpan _delay;

    /// <summary>Starts watching.</summary>
    /// <param name="files">The files; their directories are watched.</param>
    /// <param name="delay">How long the files must be still after a change before <paramref name="changed"/> is called.</param>
    /// <param name="time">The clock of the wait.</param>
    /// <param name="changed">What to do once they are still.</param>
    /// <param name="failed">Told when a watch fails (such as inotify's watch limit), with the directory.</param>
    public FileWatch(IEnumerable<string> files, TimeSpan delay, TimeProvider time, Action changed, Action<Exception, string> failed)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(changed);
        ArgumentNullException.ThrowIfNull(failed);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        _delay = delay;
        _settle = time.CreateTimer(_ => changed(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        try
        {
            foreach (var directory in files.Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!).Distinct(StringComparer.Ordinal))
            {
                var watcher = new FileSystemWatcher(directory)
                {
                    NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size
                        | NotifyFilters.CreationTime,
                };
                _watchers.Add(watcher);
                watcher.Changed += OnChanged;
                watcher.Created += OnChanged;
                watcher.Deleted += OnChanged;
                watcher.Renamed += OnChanged;
                watcher.Error += (_, e) => failed(e.GetException(), directory);
                watcher.EnableRaisingEvents = true;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Stops watching; a wait under way is dropped.</summary>
    public void Dispose()
    {
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        _settle.Dispose();
    }

    private void OnChanged(object sender, FileSystemEventArgs e) => _settle.Change(_delay, Timeout.InfiniteTimeSpan);
}
