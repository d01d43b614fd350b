using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spillway.Checks;
using Spillway.Diagnostics;
using Spillway.JetStream;
using Spillway.Pipeline;
using Spillway.Sinks;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Everything serve does with NATS, apart, so that a serve without <c>--nats</c> never loads it (as
/// <see cref="PostgresHosting"/> keeps Npgsql away from a serve on SQLite).
/// </summary>
internal static class JetStreamHosting
{
    /// <summary>The node's one client, its metrics, the poll of the stream's state for them, and its health.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void AddClient(IServiceCollection services, JetStreamOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(sp => new JetStreamClient(options, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => new JetStreamMetrics(sp.GetRequiredService<IMeterFactory>(), PipelineMetrics.MeterName));
        services.AddHostedService<JetStreamWatch>();
        services.AddHealthChecks().AddCheck<JetStreamHealthCheck>("jetstream");
    }

    /// <summary>The start-up check of the cluster, on a connection of its own.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static async Task<CheckReport> CheckAsync(JetStreamOptions options, CancellationToken cancellationToken)
    {
        await using var client = new JetStreamClient(options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        return await client.CheckAsync(cancellationToken);
    }

    /// <summary>Makes the instruments now (observable ones exist once made), not at the first publish.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void MakeInstruments(IServiceProvider services) => services.GetRequiredService<JetStreamMetrics>();

    /// <summary>An edge writer's sink: it publishes to the stream.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ISink CreateSink(IServiceProvider services, int maxMessageBytes) => new JetStreamSink(
        services.GetRequiredService<JetStreamClient>(), services.GetRequiredService<JetStreamMetrics>(), maxMessageBytes,
        services.GetRequiredService<TimeProvider>());

    /// <summary>A writer node's buffer: the stream's shared consumer, counting what it takes in <paramref name="stats"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IIngestBuffer CreateBuffer(IServiceProvider services, ServeSettings settings, IngestStats stats) => new JetStreamBuffer(
        services.GetRequiredService<JetStreamClient>(), services.GetRequiredService<JetStreamMetrics>(), settings.Buffer, settings.MaxMessageBytes,
        stats, services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILogger<JetStreamBuffer>>());
}

/// <summary>The node's part in the scale-out as <c>/health</c> shows it.</summary>
internal sealed record JetStreamHealth(
    string Role, bool Connected, string? Server, string Stream, long? StreamBytes, long? StreamMessages, long? ConsumerPending,
    long? AckPending, long Published, long PublishFailures, long Taken, long Redelivered);

/// <summary>Degraded while the connection to the NATS cluster is down (edges spill, writers wait; the client reconnects).</summary>
internal sealed class JetStreamHealthCheck(JetStreamClient client, JetStreamMetrics metrics, ServeSettings settings) : IHealthCheck
{
    public const string DataKey = "jetstream";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var state = metrics.State;
        var health = new JetStreamHealth(settings.Role.ToString().ToLowerInvariant(), client.Connected, client.ConnectedServer, client.Options.Stream,
            state.StreamBytes, state.StreamMessages, state.Pending, state.AckPending, metrics.Published, metrics.PublishFailures, metrics.Taken,
            metrics.Redelivered);
        var data = new Dictionary<string, object> { [DataKey] = health };
        return Task.FromResult(health.Connected
            ? HealthCheckResult.Healthy($"connected to NATS at {health.Server}", data)
            : HealthCheckResult.Degraded("not connected to NATS: edges keep what they take in the spill log, writers wait; the client reconnects",
                data: data));
    }
}

/// <summary>Reads the stream's (and on a writer the consumer's) state every few seconds, for the gauges and <c>/health</c>.</summary>
internal sealed class JetStreamWatch(JetStreamClient client, JetStreamMetrics metrics, ServeSettings settings, TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            do
            {
                if (client.IsOpen)
                {
                    await metrics.PollAsync(client, consumer: settings.Stores, stoppingToken);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
