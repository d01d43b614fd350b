using Microsoft.Extensions.Hosting;

namespace Spillway.Http;

/// <summary>
/// The web host's lifetime when it runs inside <c>serve</c>: it does nothing, so the web host neither listens for
/// signals nor stops on its own. <c>serve</c> stops it in its place in the ordered shutdown.
/// </summary>
internal sealed class HostedByServeLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
