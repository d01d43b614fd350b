using Microsoft.Extensions.Logging;
using Spillway.Reloading;

namespace Spillway.Tls;

/// <summary>
/// The TLS credentials in force, shared by every TLS listener, and their rotation without a restart: when a file
/// changes (watched in its directory, so a file replaced by a rename or a symlink swap is seen too) or on
/// SIGHUP, the files are read again after they have been still for
/// <see cref="TlsOptions.ReloadDelay"/>. New handshakes take the new credentials; open connections go on with theirs.
/// Files that do not load keep the credentials in force, are logged, shown by <c>Failure</c>, and are tried again
/// at their next change (see <see cref="ReloadingStore{T, TLoadException}"/>).
/// </summary>
public sealed class TlsCredentialStore : ReloadingStore<TlsCredentials, TlsCredentialsException>
{
    private static readonly ReloadWords Words = new("a file changed", "the files load again");

    private readonly ILogger _logger;

    /// <summary>Loads the files, which must load: a start with TLS credentials that cannot be used fails.</summary>
    /// <exception cref="TlsCredentialsException">The files cannot be used; the message says why.</exception>
    public TlsCredentialStore(TlsOptions options, TimeProvider time, ILogger<TlsCredentialStore> logger)
        : base(Initial(options, time), options.Files, options.ReloadDelay, time, Words)
    {
        ArgumentNullException.ThrowIfNull(logger);
        Options = options;
        _logger = logger;
        Log.TlsLoaded(_logger, "start", Current);
    }

    /// <summary>The files and the mutual-TLS rules.</summary>
    public TlsOptions Options { get; }

    /// <summary>The credentials new handshakes take.</summary>
    public TlsCredentials Current => InForce;

    /// <inheritdoc />
    protected override TlsCredentials Load() => TlsCredentials.Load(Options, Time.GetUtcNow());

    /// <inheritdoc />
    protected override bool Same(TlsCredentials loaded, TlsCredentials current) => loaded.SameAs(current);

    /// <inheritdoc />
    protected override void Loaded(string cause, TlsCredentials value) => Log.TlsLoaded(_logger, cause, value);

    /// <inheritdoc />
    protected override void ReloadFailed(string cause, string error, TlsCredentials current) => Log.TlsReloadFailed(_logger, cause, error, current);

    /// <inheritdoc />
    protected override void WatchFailed(Exception exception, string directory) => Log.TlsWatchFailed(_logger, exception, directory);

    private static TlsCredentials Initial(TlsOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        return TlsCredentials.Load(options, time.GetUtcNow());
    }
}
