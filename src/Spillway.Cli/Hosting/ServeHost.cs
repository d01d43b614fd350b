using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Http;
using Spillway.Pipeline;
using Spillway.Sinks;
using Spillway.Sinks.Sqlite;
using Spillway.Spill;
using Spillway.Tcp;
using Spillway.Keys;
using Spillway.Reloading;
using Spillway.Tls;
using Spillway.Udp;

namespace Spillway.Cli.Hosting;

/// <summary>Composes the service on the generic host: logging to stderr, the pipeline, and the signal lifetime.</summary>
internal static class ServeHost
{
    public static IHost Build(ServeSettings settings, IConfiguration configuration)
    {
        // A web host, so that the HTTP source serves on this host's own Kestrel, container, logging and lifetime; the
        // empty one, which adds nothing this does not add itself.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = "spillway",
            ContentRootPath = Directory.GetCurrentDirectory(),
        });

        // Logs go to stderr, so stdout carries only what scripts read: the listening lines and the summary.
        builder.Logging.AddConfiguration(configuration.GetSection("Logging"));
        builder.Logging.SetMinimumLevel(LogLevel.Information);

        // ASP.NET Core logs every request at Information, and its lifetime says "Press Ctrl+C", which serve handles
        // itself: only their warnings and errors, unless the config file's Logging section asks for more.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);

        // The clients log each command (Npgsql) and each connection's server info (NATS) at Information: their warnings and
        // errors only; what they do is in Spillway's own log and metrics.
        builder.Logging.AddFilter("Npgsql", LogLevel.Warning);
        builder.Logging.AddFilter("NATS", LogLevel.Warning);

        // The health check service logs every degraded or unhealthy check of every /health request: a probe each few
        // seconds would flood the log. What makes a check fail is logged by its owner, once a minute at most.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.None);
        if (settings.LogFormat == LogFormat.Json)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
            });
        }

        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        // The drain takes as long as it takes; a second signal, not a timeout, is how an operator cuts it short.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = Timeout.InfiniteTimeSpan);

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ShutdownControl>();
        services.AddSingleton<IHostLifetime, SignalLifetime>();
        services.AddSingleton<IngestStats>();
        services.AddSingleton<BadInputLog>();
        services.AddSingleton<FrameDecoder>();
        services.AddSingleton<SourcePipeline>();
        services.AddSingleton(settings.Buffer);
        services.AddSingleton(settings.Batch);
        services.AddSingleton(settings.Tcp);
        services.AddSingleton(settings.Udp);
        services.AddSingleton(settings.Http);
        services.AddSingleton(settings.Sqlite);
        if (settings.JetStream is { } jetStream)
        {
            JetStreamHosting.AddClient(services, jetStream);
        }

        if (!settings.Listens)
        {
            // A writer node: its batches are the stream's messages; what it takes counts as replayed in its summary.
            services.AddSingleton(sp => JetStreamHosting.CreateBuffer(sp, settings, sp.GetRequiredService<IngestStats>()));
            services.AddSingleton(IBufferDiagnostics.None);
        }
        else if (settings.Spill is { } spill)
        {
            // Opened (and recovered) when the service starts; disposed by IngestService once the writers have drained it.
            services.AddSingleton(sp => SpillBuffer.Open(
                spill, settings.Buffer, sp.GetRequiredService<IngestStats>(), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<SpillBuffer>>()));
            services.AddSingleton<IIngestBuffer>(sp => sp.GetRequiredService<SpillBuffer>());
            services.AddSingleton<IBufferDiagnostics>(sp => sp.GetRequiredService<SpillBuffer>());
        }
        else
        {
            services.AddSingleton<IIngestBuffer, IngestBuffer>();
            services.AddSingleton(IBufferDiagnostics.None);
        }
        if (settings.Postgres is { } postgres)
        {
            PostgresHosting.AddDataSource(services, postgres);
        }

        // An edge's writers publish to the stream; the others store into the database.
        services.AddSingleton(sp => new WriterPool([.. Enumerable.Range(0, settings.Writers).Select(_ =>
        {
            var sink = settings.Publishes ? JetStreamHosting.CreateSink(sp, settings.MaxMessageBytes) : DatabaseSink(sp, settings);
            return (sink, ActivatorUtilities.CreateInstance<BatchWriter>(sp, sink));
        })]));
        if (settings.Publishes && settings.Stores)
        {
            // Both roles in one process: writers taking from the stream beside the edge's, counted apart.
            services.AddSingleton(sp =>
            {
                var stats = new IngestStats();
                var buffer = JetStreamHosting.CreateBuffer(sp, settings, stats);
                return new StreamWriters(buffer, new WriterPool([.. Enumerable.Range(0, settings.Writers).Select(_ =>
                {
                    var sink = DatabaseSink(sp, settings);
                    return (sink, new BatchWriter(buffer, sink, settings.Batch, stats, sp.GetRequiredService<TimeProvider>(),
                        sp.GetRequiredService<ILogger<BatchWriter>>()));
                })]), stats);
            });
        }

        // Metrics on /metrics and health on /health, served by the HTTP listener beside /ingest (or on --listen-admin).
        services.AddSingleton(settings);
        services.AddMetrics();
        services.AddSingleton<PipelineMetrics>();
        services.AddSingleton<ServeMetrics>();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("spillway", serviceVersion: typeof(ServeHost).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics => metrics
                .AddMeter(PipelineMetrics.MeterName, "Microsoft.AspNetCore.Server.Kestrel")
                .AddPrometheusExporter());
        services.AddHealthChecks()
            .AddCheck<WritersHealthCheck>("writers")
            .AddCheck<ListenersHealthCheck>("listeners")
            .AddCheck<BufferHealthCheck>("buffer");
        services.AddSingleton<IHttpEndpoint, MetricsEndpoint>();
        services.AddSingleton<IHttpEndpoint, HealthEndpoint>();

        services.AddSingleton<ISource>(sp => new TcpSource(settings.Tcp, sp.GetRequiredService<SourcePipeline>(), sp.GetRequiredService<ILogger<TcpSource>>()));
        if (settings.Tls is { } tls)
        {
            // Loaded (or failing the start) as the host is built, and watched from then on: SIGHUP reloads it too.
            services.AddSingleton(sp =>
            {
                var store = new TlsCredentialStore(tls, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<TlsCredentialStore>>());
                store.Watch();
                return store;
            });
            services.AddSingleton<IReloadable>(sp => sp.GetRequiredService<TlsCredentialStore>());
            services.AddHealthChecks().AddCheck<TlsHealthCheck>("tls");
            if (settings.ListenTls.Count > 0)
            {
                services.AddSingleton<ISource>(sp => new TcpSource(settings.TlsTcp, sp.GetRequiredService<SourcePipeline>(),
                    sp.GetRequiredService<ILogger<TcpSource>>(), sp.GetRequiredService<TlsCredentialStore>()));
            }
        }

        if (settings.ApiKeys is { } keys)
        {
            services.AddSingleton(sp =>
            {
                var store = new ApiKeyStore(keys, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ApiKeyStore>>());
                store.Watch();
                return store;
            });
            services.AddSingleton<IReloadable>(sp => sp.GetRequiredService<ApiKeyStore>());
            services.AddHealthChecks().AddCheck<ApiKeysHealthCheck>("api-keys");
        }

        services.AddSingleton<ISource, UdpSource>();
        builder.AddHttpSource();
        services.AddSingleton<ISource>(sp => sp.GetRequiredService<HttpSource>());
        services.AddSingleton<IngestService>();
        services.AddHostedService(sp => sp.GetRequiredService<IngestService>());
        var host = builder.Build();
        host.MapHttpSource();

        // Observable instruments exist once made: make them now, not at the first scrape.
        host.Services.GetRequiredService<ServeMetrics>();
        if (settings.JetStream is not null)
        {
            JetStreamHosting.MakeInstruments(host.Services);
        }

        return host;
    }

    private static ISink DatabaseSink(IServiceProvider services, ServeSettings settings) => settings.Postgres is null
        ? ActivatorUtilities.CreateInstance<SqliteSink>(services)
        : PostgresHosting.CreateSink(services);
}
