using System.Globalization;
using System.Net;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Keys;
using Spillway.Tls;

namespace Spillway.Cli.Hosting;

/// <summary>A writer as <c>/health</c> shows it.</summary>
internal sealed record WriterHealth(int Writer, WriterState State, DateTimeOffset? RetryingSince, string? LastError);

/// <summary>A listener as <c>/health</c> shows it.</summary>
internal sealed record ListenerHealth(
    Transport Source, IReadOnlyList<IPEndPoint> Endpoints, ListenerState State, DateTimeOffset? FailingSince, string? LastError,
    int OpenConnections);

/// <summary>
/// Unhealthy when a writer has been retrying for longer than <c>--unhealthy-after</c>: the database has been away
/// that long, the buffer is filling, and senders will soon be pushed back or dropped. A node of both scale-out roles lists
/// its edge's writers (publishing to the stream) first, then those taking from the stream.
/// </summary>
internal sealed class WritersHealthCheck(WriterPool pool, IEnumerable<StreamWriters> stream, ServeSettings settings, TimeProvider time) : IHealthCheck
{
    public const string DataKey = "writers";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var pools = stream.Select(s => s.Pool).Prepend(pool).ToList();
        var writers = pools.SelectMany(p => p.Writers).Select((w, i) => new WriterHealth(i, w.State, w.RetryingSince, w.LastError)).ToList();
        var data = new Dictionary<string, object> { [DataKey] = writers };
        var stuck = writers.Where(w => w.RetryingSince is { } since && now - since > settings.UnhealthyAfter).ToList();
        var notice = pools.SelectMany(p => p.Sinks).Select(s => s.Notice).FirstOrDefault(n => n is not null);
        return Task.FromResult(stuck.Count == 0
            ? notice is null ? HealthCheckResult.Healthy($"{writers.Count} writer(s) storing", data) : HealthCheckResult.Degraded(notice, data: data)
            : HealthCheckResult.Unhealthy(
                $"{stuck.Count} writer(s) failing to store for more than {settings.UnhealthyAfter.TotalSeconds:0.###} s: {stuck[0].LastError}",
                data: data));
    }
}

/// <summary>Unhealthy when a listener's accepts or receives are failing (such as when the process is out of file descriptors).</summary>
internal sealed class ListenersHealthCheck(IngestService service, IEnumerable<ISource> sources) : IHealthCheck
{
    public const string DataKey = "listeners";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var listeners = new List<ListenerHealth>();
        foreach (var source in sources)
        {
            // One entry a transport: the HTTP source serves HTTPS beside HTTP.
            foreach (var group in service.Listening.Where(l => l.Source == source).GroupBy(l => l.Transport))
            {
                var status = source.Status;
                listeners.Add(new ListenerHealth(group.Key, [.. group.Select(l => l.Endpoint)], status.State, status.FailingSince, status.LastError,
                    source.OpenConnections));
            }
        }

        var data = new Dictionary<string, object> { [DataKey] = listeners };
        var failing = listeners.Where(l => l.State == ListenerState.Failing).ToList();
        return Task.FromResult(failing.Count == 0
            ? HealthCheckResult.Healthy($"{listeners.Count} listener(s) taking input", data)
            : HealthCheckResult.Unhealthy($"the {failing[0].Source.ToName()} listener is failing: {failing[0].LastError}", data: data));
    }
}

/// <summary>
/// Degraded while the TLS files in place do not load (the credentials loaded before are served meanwhile), or when a
/// certificate in force expires within a week; the certificates' subjects and expiry times as data.
/// </summary>
internal sealed class TlsHealthCheck(TlsCredentialStore store, TimeProvider time) : IHealthCheck
{
    public const string DataKey = "tls";

    /// <summary>How long before a certificate expires /health starts saying so.</summary>
    public static readonly TimeSpan ExpiryWarning = TimeSpan.FromDays(7);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var credentials = store.Current;
        var failure = store.Failure;
        var data = new Dictionary<string, object> { [DataKey] = new TlsHealth(credentials.Certificate.Subject, credentials.NotAfter,
            credentials.ClientCaNotAfter, failure?.Error, failure?.Since) };
        var expiring = new[] { ("server certificate", (DateTimeOffset?)credentials.NotAfter), ("first client CA certificate", credentials.ClientCaNotAfter) }
            .FirstOrDefault(c => c.Item2 is { } notAfter && notAfter - time.GetUtcNow() < ExpiryWarning);
        return Task.FromResult(failure is not null
            ? HealthCheckResult.Degraded($"the TLS files do not load (the certificate loaded before is served meanwhile): {failure.Error}", data: data)
            : expiring.Item2 is { } expires
                ? HealthCheckResult.Degraded(string.Create(CultureInfo.InvariantCulture,
                    $"the TLS {expiring.Item1} expires on {expires.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}: replace the file"), data: data)
                : HealthCheckResult.Healthy("TLS credentials in force", data));
    }
}

/// <summary>Degraded while the API keys file in place does not load (the keys loaded before stay in force meanwhile).</summary>
internal sealed class ApiKeysHealthCheck(ApiKeyStore store) : IHealthCheck
{
    public const string DataKey = "api_keys";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failure = store.Failure;
        var data = new Dictionary<string, object> { [DataKey] = new ApiKeysHealth(store.Keys.Count, failure?.Error, failure?.Since) };
        return Task.FromResult(failure is not null
            ? HealthCheckResult.Degraded($"the API keys file does not load (the {store.Keys.Count} keys loaded before stay in force): {failure.Error}",
                data: data)
            : HealthCheckResult.Healthy("API keys in force", data));
    }
}

/// <summary>The API keys as <c>/health</c> shows them: how many, and why the file does not load, if it does not.</summary>
internal sealed record ApiKeysHealth(int Keys, string? ReloadError, DateTimeOffset? FailingSince);

/// <summary>The TLS credentials as <c>/health</c> shows them.</summary>
internal sealed record TlsHealth(string Subject, DateTimeOffset NotAfter, DateTimeOffset? ClientCaNotAfter, string? ReloadError, DateTimeOffset? FailingSince);

/// <summary>Unhealthy while the buffer refuses writes (the spill log's disk full, or the process out of descriptors).</summary>
internal sealed class BufferHealthCheck(IBufferDiagnostics buffer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(buffer.Refusal is { } refusal
            ? HealthCheckResult.Unhealthy($"the spill log refuses writes: {refusal}; TCP is pushed back, HTTP answered 503, UDP dropped")
            : HealthCheckResult.Healthy("the buffer takes writes"));
}
