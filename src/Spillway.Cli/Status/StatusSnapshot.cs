using System.Text.Json;
using Spillway.Messages;

namespace Spillway.Cli.Status;

/// <summary>A writer as <c>/health</c> reports it.</summary>
internal sealed record WriterStatus(int Writer, string State, string? RetryingSince, string? LastError);

/// <summary>A scale-out node's part as <c>/health</c> says it (its <c>jetstream</c> object); counts not read yet are null.</summary>
internal sealed record JetStreamStatus(
    string Role, bool Connected, string? Server, string Stream, long? StreamBytes, long? StreamMessages, long? ConsumerPending, long? AckPending);

/// <summary>A listener as <c>/health</c> reports it.</summary>
internal sealed record ListenerStatusView(string Source, IReadOnlyList<string> Endpoints, string State, int? OpenConnections, string? LastError);

/// <summary>One reading of a running <c>serve</c>: its <c>/metrics</c> and its <c>/health</c>, and when they were read.</summary>
internal sealed record StatusSnapshot(
    long Timestamp,
    IReadOnlyList<Sample> Metrics,
    string Health,
    IReadOnlyList<string> Problems,
    IReadOnlyList<ListenerStatusView> Listeners,
    IReadOnlyList<WriterStatus> Writers,
    JetStreamStatus? JetStream = null)
{
    /// <summary>The <c>source</c> label's values, in the order the view shows them.</summary>
    public static readonly string[] Sources = [.. TransportNames.Listeners.Select(t => t.ToName())];

    /// <summary>Reads both endpoints of the service at <paramref name="baseUrl"/>.</summary>
    /// <exception cref="HttpRequestException">The service cannot be reached or answered something else.</exception>
    public static async Task<StatusSnapshot> ReadAsync(HttpClient http, Uri baseUrl, CancellationToken cancellationToken)
    {
        var metrics = PrometheusText.Parse(await http.GetStringAsync(new Uri(baseUrl, "metrics"), cancellationToken));
        using var response = await http.GetAsync(new Uri(baseUrl, "health"), cancellationToken);
        if (response.StatusCode is not (System.Net.HttpStatusCode.OK or System.Net.HttpStatusCode.ServiceUnavailable))
        {
            throw new HttpRequestException($"GET /health answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        }

        using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var root = health.RootElement;
        var problems = root.TryGetProperty("problems", out var p) ? p.EnumerateArray().Select(e => e.GetString() ?? "").ToList() : [];
        var listeners = root.GetProperty("listeners").EnumerateArray().Select(l => new ListenerStatusView(
            l.GetProperty("source").GetString() ?? "",
            [.. l.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString() ?? "")],
            l.GetProperty("state").GetString() ?? "",
            l.TryGetProperty("open_connections", out var open) ? open.GetInt32() : null,
            l.GetProperty("last_error").GetString())).ToList();
        var writers = root.GetProperty("writers").EnumerateArray().Select(w => new WriterStatus(
            w.GetProperty("writer").GetInt32(),
            w.GetProperty("state").GetString() ?? "",
            w.GetProperty("retrying_since").GetString(),
            w.GetProperty("last_error").GetString())).ToList();
        var jetStream = root.TryGetProperty("jetstream", out var js)
            ? new JetStreamStatus(js.GetProperty("role").GetString() ?? "", js.GetProperty("connected").GetBoolean(), js.GetProperty("server").GetString(),
                js.GetProperty("stream").GetString() ?? "", Count(js, "stream_bytes"), Count(js, "stream_messages"), Count(js, "consumer_pending"),
                Count(js, "ack_pending"))
            : null;
        return new StatusSnapshot(TimeProvider.System.GetTimestamp(), metrics, root.GetProperty("status").GetString() ?? "", problems, listeners,
            writers, jetStream);
    }

    public double Published => Metrics.Sum("spillway_jetstream_published_total");

    public double PublishFailures => Metrics.Sum("spillway_jetstream_publish_failures_total");

    public double PublishSeconds => Metrics.Sum("spillway_jetstream_publish_duration_seconds_sum");

    public double PublishCount => Metrics.Sum("spillway_jetstream_publish_duration_seconds_count");

    public double Taken => Metrics.Sum("spillway_jetstream_taken_total");

    public double Redelivered => Metrics.Sum("spillway_jetstream_redelivered_total");

    public double Received(string? source = null) => Metrics.Sum("spillway_messages_received_total", l => source is null || l["source"] == source);

    public double Dropped(string? source = null) => Metrics.Sum("spillway_messages_dropped_total", l => source is null || l["source"] == source);

    public double Stored => Metrics.Sum("spillway_messages_stored_total");

    public double Rejected(string? reason = null) => Metrics.Sum("spillway_messages_rejected_total", l => reason is null || l["reason"] == reason);

    public IEnumerable<string> RejectReasons => Metrics.Where(s => s.Name == "spillway_messages_rejected_total").Select(s => s.Labels["reason"]);

    public double Expired => Metrics.Sum("spillway_rows_expired_total");

    public double RetentionSeconds => Metrics.Sum("spillway_retention_seconds");

    public double BufferMessages => Metrics.Sum("spillway_buffer_messages");

    public double BufferMessagesLimit => Metrics.Sum("spillway_buffer_messages_limit");

    public double BufferBytes => Metrics.Sum("spillway_buffer_size_bytes");

    public double BufferBytesLimit => Metrics.Sum("spillway_buffer_size_limit_bytes");

    private static long? Count(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;
}
