using Microsoft.Extensions.Logging;

namespace Spillway.Tls;

/// <summary>
/// The TLS credentials in force, shared by every TLS listener, and their rotation without a restart: when a file
/// changes (watched in its directory, so a file replaced by a rename or a symlink swap is seen too) or on
/// <see cref="Reload"/> (SIGHUP), the files are read again after they have been still for
/// <see cref="TlsOptions.ReloadDelay"/>. New handshakes take the new credentials; open connections go on with theirs.
/// Files that do not load keep the credentials in force, are logged, shown by <see cref="Failure"/>, and are tried again
/// at their next change.
/// </summary>
public sealed class TlsCredentialStore : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly ITimer _settle;
    private readonly Lock _reloading = new();
    private volatile TlsCredentials _current;
    private volatile TlsReloadFailure? _failure;
    private long _reloads;
    private bool _disposed;

    /// <summary>Loads the files, which must load: a start with TLS credentials that cannot be used fails.</summary>
    /// <exception cref="TlsCredentialsException">The files cannot be used; the message says why.</exception>
    public TlsCredentialStore(TlsOptions options, TimeProvider time, ILogger<TlsCredentialStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        Options = options;
        _time = time;
        _logger = logger;
        _current = TlsCredentials.Load(options, time.GetUtcNow());
        _settle = time.CreateTimer(_ => Reload("a file changed"), null, System.Threading.Timeout.InfiniteTimeSpan, System.Threading.Timeout.InfiniteTimeSpan);
        Log.TlsLoaded(_logger, "start", _current);
    }

    /// <summary>The files and the mutual-TLS rules.</summary>
    public TlsOptions Options { get; }

    /// <summary>The credentials new handshakes take.</summary>
    public TlsCredentials Current => _current;

    /// <summary>Why the last reload kept the credentials in force, and since when; null once a reload succeeds.</summary>
    public TlsReloadFailure? Failure => _failure;

    /// <summary>Reloads that put new credentials in force.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Starts watching the directories of the files; a change there reloads them once they are still.</summary>
    public void Watch()
    {
        foreach (var directory in Options.Files.Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!).Distinct(StringComparer.Ordinal))
        {
            var watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size
                    | NotifyFilters.CreationTime,
            };
            watcher.Changed += OnChanged;
            watcher.Created += OnChanged;
            watcher.Deleted += OnChanged;
            watcher.Renamed += OnChanged;
            watcher.Error += (_, e) => Log.TlsWatchFailed(_logger, e.GetException(), directory); // such as inotify's watch limit
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
    }

    /// <summary>
    /// Reads the files now. True when the credentials in force are those of the files (new, or the same as before);
    /// false when the files did not load, which keeps the ones in force.
    /// </summary>
    /// <param name="cause">Why, for the log: "SIGHUP", "a file changed".</param>
    public bool Reload(string cause)
    {
        lock (_reloading)
        {
            if (_disposed)
            {
                return false;
            }

            TlsCredentials loaded;
            try
            {
                loaded = TlsCredentials.Load(Options, _time.GetUtcNow());
            }
            catch (TlsCredentialsException ex)
            {
                _failure = new TlsReloadFailure(ex.Message, _failure?.Since ?? _time.GetUtcNow());
                Log.TlsReloadFailed(_logger, cause, ex.Message, _current);
                return false;
            }

            var recovered = _failure is not null;
            _failure = null;
            if (loaded.SameAs(_current))
            {
                if (recovered)
                {
                    Log.TlsLoaded(_logger, cause + ", the files load again", loaded);
                }

                return true;
            }

            _current = loaded;
            Interlocked.Increment(ref _reloads);
            Log.TlsLoaded(_logger, cause, loaded);
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

        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }

        _settle.Dispose();
    }

    /// <summary>Each change restarts the wait, so a certificate and key written one after the other are read once, together.</summary>
    private void OnChanged(object sender, FileSystemEventArgs e) => _settle.Change(Options.ReloadDelay, System.Threading.Timeout.InfiniteTimeSpan);
}

/// <summary>Why the TLS files did not load at the last reload, and since when reloads have failed.</summary>
public sealed record TlsReloadFailure(string Error, DateTimeOffset Since);
