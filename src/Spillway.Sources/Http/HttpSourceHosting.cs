using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Spillway.Http;

/// <summary>
/// Puts the <see cref="HttpSource"/> on the web host it is part of: that host's Kestrel, its container, its logging
/// and its lifetime, with the listeners and the request pipeline the source says. The host starts and stops the
/// server as it does any; the source says when it binds (see <see cref="HttpSourceServer"/>).
/// </summary>
public static class HttpSourceHosting
{
    /// <summary>
    /// Registers the source (with its options and what it is built from, which the caller registers) and Kestrel, its
    /// listeners configured by the source when the server is made.
    /// </summary>
    public static WebApplicationBuilder AddHttpSource(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.WebHost.UseKestrelCore().ConfigureKestrel((_, kestrel) => kestrel.ApplicationServices.GetRequiredService<HttpSource>().Configure(kestrel));
        builder.Services.AddRoutingCore();

        // Kestrel's own server, held by one that binds when the source starts rather than when the host does. It is made
        // at its first use, not with the holder: its options ask for the source, which asks for the holder.
        var kestrel = builder.Services.Last(d => d.ServiceType == typeof(IServer));
        builder.Services.Remove(kestrel);
        builder.Services.AddSingleton(sp => new HttpSourceServer(() => kestrel.ImplementationType is { } type
            ? (IServer)ActivatorUtilities.CreateInstance(sp, type)
            : (IServer)kestrel.ImplementationFactory!(sp)));
        builder.Services.AddSingleton<IServer>(sp => sp.GetRequiredService<HttpSourceServer>());
        builder.Services.AddSingleton<HttpSource>();
        return builder;
    }

    /// <summary>Maps the source's endpoints and middleware on the application, before it starts.</summary>
    public static WebApplication MapHttpSource(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Services.GetRequiredService<HttpSource>().Map(app);
        return app;
    }
}

/// <summary>
/// The web host's server, which is Kestrel bound later: the host hands it the application at its start, and it binds
/// the listeners only when the <see cref="HttpSource"/> starts, in the service's order (after the database is open,
/// beside the other listeners), so that a listener that cannot bind is the source's failure, said as the others are.
/// Stopping is Kestrel's (stop accepting, wait for the requests in flight), whichever of the source and the host asks
/// first; the second asks for nothing more.
/// </summary>
public sealed class HttpSourceServer : IServer
{
    private readonly Lazy<IServer> _kestrel;
    private readonly Lock _gate = new();
    private Func<CancellationToken, Task>? _listen;
    private Task? _listening;
    private Task? _stopped;

    internal HttpSourceServer(Func<IServer> kestrel) => _kestrel = new Lazy<IServer>(kestrel);

    /// <inheritdoc />
    public IFeatureCollection Features => _kestrel.Value.Features;

    /// <summary>Takes the application; binds nothing yet.</summary>
    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull
    {
        lock (_gate)
        {
            _listen = token => _kestrel.Value.StartAsync(application, token);
        }

        return Task.CompletedTask;
    }

    /// <summary>Binds the listeners Kestrel was configured with; once.</summary>
    /// <exception cref="InvalidOperationException">The host has not started yet, so there is no application to serve.</exception>
    internal Task ListenAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var listen = _listen ?? throw new InvalidOperationException("The web host has not started: the HTTP source has nothing to serve yet.");
            ObjectDisposedException.ThrowIf(_stopped is not null, this);
            return _listening ??= listen(cancellationToken);
        }
    }

    /// <summary>Stops Kestrel if it was bound, waiting for the requests in flight; asked again, waits for the same stop.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // A bind that failed has nothing to stop: Kestrel closes what it had bound as it fails.
            return _stopped ??= _listening is { IsCompletedSuccessfully: true } ? _kestrel.Value.StopAsync(cancellationToken) : Task.CompletedTask;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_kestrel.IsValueCreated)
        {
            _kestrel.Value.Dispose();
        }
    }
}
