using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spillway.Reloading;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Replaces the host's console lifetime, which treats every signal alike: the first SIGINT or SIGTERM stops the
/// service gracefully (stop accepting, drain, commit), the second forces the stop at once. SIGHUP reads the TLS and API
/// key files again (and never ends the process, as it would by default).
/// </summary>
internal sealed class SignalLifetime(
    IHostApplicationLifetime lifetime, ShutdownControl shutdown, IEnumerable<IReloadable> reloadable, ILogger<SignalLifetime> logger)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signals;

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnHangUp));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private void OnHangUp(PosixSignalContext context)
    {
        context.Cancel = true;
        var stores = reloadable.ToList();
        Log.ReloadRequested(logger, stores.Count);
        foreach (var store in stores)
        {
            store.Reload("SIGHUP");
        }
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the process ends when the drain is done, not now
        if (Interlocked.Increment(ref _signals) == 1)
        {
            Log.StopRequested(logger, context.Signal);
            lifetime.StopApplication();
        }
        else
        {
            Log.StopForced(logger, context.Signal);
            shutdown.Force();
        }
    }
}
