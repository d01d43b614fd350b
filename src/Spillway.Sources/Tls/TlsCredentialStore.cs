using Microsoft.Extensions.Logging;
using Spillway.Reloading;

namespace Spillway.Tls;

/// <summary>
/// The TLS credentials in force, shared by every TLS listener, and their rotation without a restart: when a file
/// changes (watched in its directory, so a file replaced by a rename or a symlink swap is seen too) or on
/// <see cref="Reload"/> (SIGHUP), the files are read again after they have been still for
/// <see cref="TlsOptions.ReloadDelay"/>. New handshakes take the new credentials; open connections go on with theirs.
/// Files that do not load keep the credentials in force, are logged, shown by <see cref="Failure"/>, and are tried again
/// at their next change.
/// </summary>
public sealed class TlsCredentialStore : IReloadable, IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private FileWatch? _watch;
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
        lock (_reloading)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _watch ??= new FileWatch(Options.Files, Options.ReloadDelay, _time, () => Reload("a file changed"),
                (exception, directory) => Log.TlsWatchFailed(_logger, exception, directory));
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

        _watch?.Dispose();
    }
}

/// <summary>Why the TLS files did not load at the last reload, and since when reloads have failed.</summary>
public sealed record TlsReloadFailure(string Error, DateTimeOffset Since);
