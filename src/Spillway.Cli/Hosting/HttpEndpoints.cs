using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using Spillway.Http;
using Spillway.Messages;

namespace Spillway.Cli.Hosting;

/// <summary><c>GET /metrics</c>: every instrument in the Prometheus text format, through OpenTelemetry's exporter.</summary>
internal sealed class MetricsEndpoint(MeterProvider meterProvider) : IHttpEndpoint
{
    public const string Path = "/metrics";

    public void Map(WebApplication app) => app.MapPrometheusScrapingEndpoint(Path, meterProvider, configureBranchedPipeline: null, optionsName: null);
}

/// <summary>
/// <c>GET /health</c>: each listener and writer with its state and last error, as JSON; 200 when healthy, 503 when
/// not. Usable as a liveness or readiness probe.
/// </summary>
internal sealed class HealthEndpoint(HealthCheckService health) : IHttpEndpoint
{
    public const string Path = "/health";

    public void Map(WebApplication app) => app.MapGet(Path, WriteAsync);

    private async Task WriteAsync(HttpContext context)
    {
        var report = await health.CheckHealthAsync(context.RequestAborted);
        var response = context.Response;
        response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";

        await using var json = new Utf8JsonWriter(response.Body);
        json.WriteStartObject();
        json.WriteString("status", Name(report.Status));
        var problems = report.Entries.Values.Where(e => e.Status != HealthStatus.Healthy).Select(e => e.Description).OfType<string>().ToList();
        if (problems.Count > 0)
        {
            json.WriteStartArray("problems");
            problems.ForEach(json.WriteStringValue);
            json.WriteEndArray();
        }

        json.WriteStartArray("listeners");
        foreach (var listener in Data<ListenerHealth>(report, ListenersHealthCheck.DataKey))
        {
            json.WriteStartObject();
            json.WriteString("source", listener.Source.ToName());
            json.WriteStartArray("endpoints");
            listener.Endpoints.Select(e => e.ToString()).ToList().ForEach(json.WriteStringValue);
            json.WriteEndArray();
            json.WriteString("state", listener.State.ToString().ToLowerInvariant());
            WriteTime(json, "failing_since", listener.FailingSince);
            json.WriteString("last_error", listener.LastError);
            if (listener.Source is Transport.Tcp or Transport.Tls)
            {
                json.WriteNumber("open_connections", listener.OpenConnections);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartArray("writers");
        foreach (var writer in Data<WriterHealth>(report, WritersHealthCheck.DataKey))
        {
            json.WriteStartObject();
            json.WriteNumber("writer", writer.Writer);
            json.WriteString("state", writer.State.ToString().ToLowerInvariant());
            WriteTime(json, "retrying_since", writer.RetryingSince);
            json.WriteString("last_error", writer.LastError);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (Data<TlsHealth>(report, TlsHealthCheck.DataKey).FirstOrDefault() is { } tls)
        {
            json.WriteStartObject("tls");
            json.WriteString("subject", tls.Subject);
            WriteTime(json, "not_after", tls.NotAfter);
            WriteTime(json, "client_ca_not_after", tls.ClientCaNotAfter);
            json.WriteString("reload_error", tls.ReloadError);
            WriteTime(json, "failing_since", tls.FailingSince);
            json.WriteEndObject();
        }

        if (Data<JetStreamHealth>(report, JetStreamHealthCheck.DataKey).FirstOrDefault() is { } stream)
        {
            json.WriteStartObject("jetstream");
            json.WriteString("role", stream.Role);
            json.WriteBoolean("connected", stream.Connected);
            json.WriteString("server", stream.Server);
            json.WriteString("stream", stream.Stream);
            WriteCount(json, "stream_bytes", stream.StreamBytes);
            WriteCount(json, "stream_messages", stream.StreamMessages);
            WriteCount(json, "consumer_pending", stream.ConsumerPending);
            WriteCount(json, "ack_pending", stream.AckPending);
            json.WriteNumber("published", stream.Published);
            json.WriteNumber("publish_failures", stream.PublishFailures);
            json.WriteNumber("taken", stream.Taken);
            json.WriteNumber("redelivered", stream.Redelivered);
            json.WriteEndObject();
        }

        if (Data<ApiKeysHealth>(report, ApiKeysHealthCheck.DataKey).FirstOrDefault() is { } keys)
        {
            json.WriteStartObject("api_keys");
            json.WriteNumber("keys", keys.Keys);
            json.WriteString("reload_error", keys.ReloadError);
            WriteTime(json, "failing_since", keys.FailingSince);
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    private static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };

    private static IEnumerable<T> Data<T>(HealthReport report, string key) =>
        report.Entries.Values.SelectMany(e => e.Data.TryGetValue(key, out var value)
            ? value switch { IEnumerable<T> items => items, T item => [item], _ => [] }
            : []);

    private static void WriteCount(Utf8JsonWriter json, string name, long? count)
    {
        if (count is { } c)
        {
            json.WriteNumber(name, c);
        }
        else
        {
            json.WriteNull(name);
        }
    }

    private static void WriteTime(Utf8JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            json.WriteString(name, t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
