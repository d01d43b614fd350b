namespace Spillway.Cli.Hosting;

/// <summary>
/// How the service ends. A first signal stops it gracefully (the host's StopApplication); a second one, or a fatal
/// error, aborts: every wait gives up at once and what was not stored is counted as such.
/// </summary>
internal sealed class ShutdownControl : IDisposable
{
    private readonly CancellationTokenSource _abort = new();
    private Exception? _fatal;

    /// <summary>Cancelled on a forced stop or a fatal error.</summary>
    public CancellationToken AbortToken => _abort.Token;

    /// <summary>True once a second signal forced the stop.</summary>
    public bool Forced { get; private set; }

    /// <summary>The error that ended the service, or null.</summary>
    public Exception? Fatal => Volatile.Read(ref _fatal);

    public void Force()
    {
        Forced = true;
        _abort.Cancel();
    }

    public void Fail(Exception exception)
    {
        Interlocked.CompareExchange(ref _fatal, exception, null);
        _abort.Cancel();
    }

    public void Dispose() => _abort.Dispose();
}
