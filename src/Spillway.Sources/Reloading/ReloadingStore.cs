namespace Spillway.Reloading;

/// <summary>
/// What was read from files at the start, kept in force until they are read again: when they change (their
/// directories watched, see <see cref="FileWatch"/>) or on <see cref="Reload"/> (SIGHUP). Files that do not load keep
/// what is in force, are logged, shown by <see cref="Failure"/> (failing since the first of a run of failures), and are
/// tried again at their next change. A reload that reads what is in force already changes nothing and counts nothing.
/// </summary>
/// <typeparam name="T">What the files hold (the TLS credentials, the API keys).</typeparam>
/// <typeparam name="TLoadException">What <see cref="Load"/> throws for files that cannot be used.</typeparam>
public abstract class ReloadingStore<T, TLoadException> : IReloadable, IDisposable
    where T : class
    where TLoadException : Exception
{
    private readonly IReadOnlyList<string> _files;
    private readonly TimeSpan _reloadDelay;
    private readonly ReloadWords _words;
    private readonly Lock _reloading = new();
    private volatile T _current;
    private volatile ReloadFailure? _failure;
    private FileWatch? _watch;
    private long _reloads;
    private bool _disposed;

    /// <summary>Starts with what the files held at the start, as the derived class loaded it.</summary>
    /// <param name="current">What is in force from the start.</param>
    /// <param name="files">The files; their directories are watched.</param>
    /// <param name="reloadDelay">How long the files must be still after a change before they are read.</param>
    /// <param name="time">The clock of the wait and of <see cref="ReloadFailure.Since"/>.</param>
    /// <param name="words">The causes a reload is logged under.</param>
    protected ReloadingStore(T current, IEnumerable<string> files, TimeSpan reloadDelay, TimeProvider time, ReloadWords words)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(words);
        _current = current;
        _files = [.. files];
        _reloadDelay = reloadDelay;
        _words = words;
        Time = time;
    }

    /// <summary>Why the last reload kept what is in force, and since when; null once a reload succeeds.</summary>
    public ReloadFailure? Failure => _failure;

    /// <summary>Reloads that put something new in force.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>What is in force.</summary>
    protected T InForce => _current;

    /// <summary>Starts watching the directories of the files; a change there reloads them once they are still.</summary>
    public void Watch()
    {
        lock (_reloading)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _watch ??= new FileWatch(_files, _reloadDelay, Time, () => Reload(_words.Changed), WatchFailed);
        }
    }

    /// <inheritdoc />
    public bool Reload(string cause)
    {
        lock (_reloading)
        {
            if (_disposed)
            {
                return false;
            }

            T loaded;
            try
            {
                loaded = Load();
            }
            catch (TLoadException ex)
            {
                _failure = new ReloadFailure(ex.Message, _failure?.Since ?? Time.GetUtcNow());
                ReloadFailed(cause, ex.Message, _current);
                return false;
            }

            var recovered = _failure is not null;
            _failure = null;
            if (Same(loaded, _current))
            {
                if (recovered)
                {
                    Loaded(cause + ", " + _words.LoadsAgain, loaded);
                }

                return true;
            }

            _current = Adopt(loaded, _current);
            Interlocked.Increment(ref _reloads);
            Loaded(cause, _current);
            return true;
        }
    }

    /// <summary>Stops watching.</summary>
    public void Dispose()
    {
        lock (_reloading)
        {
            _disposed = true;
        }

        _watch?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Reads the files.</summary>
    /// <exception cref="Exception">A <typeparamref name="TLoadException"/> when they cannot be used.</exception>
    protected abstract T Load();

    /// <summary>Whether what was read is what is in force already.</summary>
    protected abstract bool Same(T loaded, T current);

    /// <summary>What goes in force for what was read (by default, that).</summary>
    protected virtual T Adopt(T loaded, T current) => loaded;

    /// <summary>Logs what was put in force, or found in force again after failures.</summary>
    protected abstract void Loaded(string cause, T value);

    /// <summary>Logs files that did not load, with what stays in force.</summary>
    protected abstract void ReloadFailed(string cause, string error, T current);

    /// <summary>Logs a watch that failed (such as inotify's watch limit); SIGHUP still reloads.</summary>
    protected abstract void WatchFailed(Exception exception, string directory);
}

/// <summary>The causes a <see cref="ReloadingStore{T, TLoadException}"/> logs its reloads under.</summary>
/// <param name="Changed">A reload after the files changed: "a file changed".</param>
/// <param name="LoadsAgain">Added to the cause of a reload that finds the files loading again: "the files load again".</param>
public sealed record ReloadWords(string Changed, string LoadsAgain);

/// <summary>Why the files did not load at the last reload, and since when reloads have failed.</summary>
public sealed record ReloadFailure(string Error, DateTimeOffset Since);
