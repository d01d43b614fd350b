using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Replaces the host's console lifetime, which treats every signal alike: the first SIGINT or SIGTERM stops the
/// service gracefully (stop accepting, drain, commit), the second forces the stop at once.
/// </summary>
internal sealed class SignalLifetime(IHostApplicationLifetime lifetime, ShutdownControl shutdown, ILogger<SignalLifetime> logger)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signals;

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
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
