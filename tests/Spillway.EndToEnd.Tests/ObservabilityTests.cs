using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Spillway.Cli.Status;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary><c>/metrics</c>, <c>/health</c>, the log and <c>spillway status</c>, read from the CLI as an operator would.</summary>
public sealed class ObservabilityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Metrics_after_a_known_load_count_it_and_add_up()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");
        var udp = await serve.ListeningAsync("udp");
        var http = await serve.ListeningAsync("http");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{http}/") };

        // TCP: 2,000 good lines, 3 that are not UTF-8, 2 blank; UDP: 5 datagrams; HTTP: one request of 4 lines.
        var lines = new StringBuilder();
        for (var i = 0; i < 2_000; i++)
        {
            lines.Append("<13>message ").Append(i).Append('\n');
        }

        var body = new List<byte>(Encoding.UTF8.GetBytes(lines.ToString()));
        for (var i = 0; i < 3; i++)
        {
            body.AddRange([(byte)'b', 0xFF, (byte)'\n']);
        }

        body.AddRange("\n  \n"u8.ToArray());
        await SendTcpAsync(tcp, [.. body]);
        using (var datagrams = new UdpClient())
        {
            for (var i = 0; i < 5; i++)
            {
                await datagrams.SendAsync(Encoding.UTF8.GetBytes($"<14>datagram {i}"), udp, Ct);
            }
        }

        using (var posted = await client.PostAsync("ingest", new StringContent("a\nb\nc\nd", Encoding.UTF8, "text/plain"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        }

        IReadOnlyList<Sample> metrics = [];
        await Eventually.Until(() =>
        {
            metrics = Scrape.Metrics(client);
            // The buffer gives a batch's room back just after the batch is counted stored: wait for both.
            return metrics.Sum("spillway_messages_stored_total") + metrics.Sum("spillway_messages_rejected_total") == 2_000 + 3 + 5 + 4
                && metrics.Sum("spillway_buffer_messages") == 0;
        }, "every message to be stored or rejected, and the buffer empty");

        Assert.Equal(2_003, metrics.Sum("spillway_messages_received_total", l => l["source"] == "tcp"));
        Assert.Equal(5, metrics.Sum("spillway_messages_received_total", l => l["source"] == "udp"));
        Assert.Equal(4, metrics.Sum("spillway_messages_received_total", l => l["source"] == "http"));
        Assert.Equal(2, metrics.Sum("spillway_messages_blank_total", l => l["source"] == "tcp"));
        Assert.Equal(3, metrics.Sum("spillway_messages_rejected_total", l => l["reason"] == "invalid-utf8"));
        Assert.Equal(2_009, metrics.Sum("spillway_messages_stored_total"));
        Assert.Equal(0, metrics.Sum("spillway_messages_dropped_total"));
        Assert.Equal(
            metrics.Sum("spillway_messages_received_total"),
            metrics.Sum("spillway_messages_stored_total") + metrics.Sum("spillway_messages_rejected_total") + metrics.Sum("spillway_messages_dropped_total"));
        Assert.True(metrics.Sum("spillway_received_bytes_total", l => l["source"] == "tcp") >= 2_000 * "<13>message 0".Length);
        Assert.Equal(0, metrics.Sum("spillway_buffer_messages"));
        Assert.Equal(100_000, metrics.Sum("spillway_buffer_messages_limit"));
        Assert.True(metrics.Sum("spillway_batch_size_count") >= 1);
        Assert.Equal(2_012, metrics.Sum("spillway_batch_size_sum"));
        Assert.True(metrics.Sum("spillway_batch_write_duration_seconds_count") >= 1);
        Assert.Equal(1, metrics.Sum("spillway_writer_state", l => l["writer"] == "0" && l["state"] is "idle" or "writing"));
        Assert.Equal(0, metrics.Sum("spillway_writer_retries_total"));

        // Every series served is in the operator's list, and every one listed is served (the TLS ones, served with
        // --tls-cert only, are checked by TlsTests; the API keys' ones, served with --api-keys only, by ApiKeyServeTests; the
        // JetStream ones, served with --nats only, by ScaleOutTests).
        var families = metrics.Select(m => Regex.Replace(m.Name, "_(bucket|sum|count)$", "")).Where(n => n.StartsWith("spillway_", StringComparison.Ordinal))
            .ToHashSet();
        var documented = Documented().Where(n => !n.StartsWith("spillway_tls_", StringComparison.Ordinal)
            && !n.StartsWith("spillway_jetstream_", StringComparison.Ordinal) && !ApiKeyServeTests.IsKeyMetric(n));
        Assert.Equal(documented.Order(), families.Order());

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(new SpillwayProcess.Summary(2_012, 2_009, 3, 0), serve.ReadSummary());
    }

    /// <summary>The metric families docs/operations.md lists.</summary>
    internal static HashSet<string> Documented() =>
        Regex.Matches(Repository.Read("docs/operations.md"), "`(spillway_[a-z_]+)`").Select(m => m.Groups[1].Value).ToHashSet();

    [Fact]
    public async Task Health_answers_503_while_the_database_is_locked_and_200_once_it_is_free()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--unhealthy-after", "0s", "--batch-linger", "0s");
        var tcp = await serve.ListeningAsync("tcp");
        var http = await serve.ListeningAsync("http");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{http}/") };

        var (status, health) = await GetHealthAsync(client);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Equal(["tcp", "udp", "http"], health.GetProperty("listeners").EnumerateArray().Select(l => l.GetProperty("source").GetString()));
        Assert.Equal("listening", health.GetProperty("listeners")[0].GetProperty("state").GetString());

        // Another process holds the write lock: each write waits out SQLite's busy timeout, fails, and is retried.
        using (var locker = workspace.Connect())
        {
            using (var begin = locker.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                begin.ExecuteNonQuery();
            }

            await SendTcpAsync(tcp, "<13>waits for the lock\n"u8.ToArray());
            JsonElement unhealthy = default;
            // With --unhealthy-after 0s a first write that waits on the lock is unhealthy already, while it is still
            // "writing": wait for the failure that makes it "retrying".
            await Eventually.Until(() =>
            {
                (status, unhealthy) = GetHealthAsync(client).GetAwaiter().GetResult();
                return status == HttpStatusCode.ServiceUnavailable && unhealthy.GetProperty("writers")[0].GetProperty("state").GetString() == "retrying";
            }, "/health to answer 503 with the writer retrying", TimeSpan.FromSeconds(60));

            Assert.Equal("unhealthy", unhealthy.GetProperty("status").GetString());
            var writer = unhealthy.GetProperty("writers")[0];
            Assert.Equal("retrying", writer.GetProperty("state").GetString());
            Assert.Contains("locked", writer.GetProperty("last_error").GetString(), StringComparison.Ordinal);
            Assert.NotEqual(JsonValueKind.Null, writer.GetProperty("retrying_since").ValueKind);
            Assert.Contains(unhealthy.GetProperty("problems").EnumerateArray(), p => p.GetString()!.Contains("failing to store", StringComparison.Ordinal));

            using var rollback = locker.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        await Eventually.Until(() => GetHealthAsync(client).GetAwaiter().GetResult().Status == HttpStatusCode.OK, "/health to answer 200 again",
            TimeSpan.FromSeconds(60));
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(["waits for the lock"], workspace.Messages());
    }

    [Fact]
    public async Task With_listen_admin_metrics_and_health_are_served_there_alone_and_ingest_on_the_http_listener_alone()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--listen-admin", "127.0.0.1:0", "--batch-linger", "10ms");
        using var admin = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("admin")}/"), Timeout = TestTimeouts.Wait };
        using var http = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/"), Timeout = TestTimeouts.Wait };

        using (var posted = await http.PostAsync("ingest", new StringContent("beside the admin listener", Encoding.UTF8, "text/plain"), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        }

        using (var refused = await admin.PostAsync("ingest", new StringContent("not here", Encoding.UTF8, "text/plain"), Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        foreach (var path in new[] { "metrics", "health" })
        {
            using var response = await http.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        var (status, health) = await GetHealthAsync(admin);
        Assert.Equal(HttpStatusCode.OK, status);
        // The admin listener takes no messages: it is not among the listeners.
        Assert.Equal(["tcp", "udp", "http"], health.GetProperty("listeners").EnumerateArray().Select(l => l.GetProperty("source").GetString()));
        Assert.Single(health.GetProperty("listeners")[2].GetProperty("endpoints").EnumerateArray());
        await Eventually.Until(() => Scrape.Metrics(admin)
            .Sum("spillway_messages_stored_total") == 1, "the message counted on the admin listener");

        await using (var view = SpillwayProcess.Start(workspace.Directory, ["status", "--url", admin.BaseAddress!.ToString(), "--once", "--interval", "100ms"]))
        {
            Assert.True(await view.WaitForExitAsync() == 0, view.Error);
        }

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(["beside the admin listener"], workspace.Messages());
    }

    [Fact]
    public async Task A_flood_of_invalid_lines_is_logged_once_not_once_a_line()
    {
        const int Lines = 100_000;
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");

        var flood = new byte[Lines * 3];
        for (var i = 0; i < Lines; i++)
        {
            flood[3 * i] = (byte)'x';
            flood[(3 * i) + 1] = 0xFE; // never valid in UTF-8
            flood[(3 * i) + 2] = (byte)'\n';
        }

        await SendTcpAsync(tcp, flood);
        await Eventually.Until(() => workspace.Count("rejects") == Lines, "every line in the rejects table", TimeSpan.FromSeconds(60));
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());

        Assert.Equal(new SpillwayProcess.Summary(Lines, 0, Lines, 0), serve.ReadSummary());
        var log = serve.Error.Split('\n');
        Assert.Single(log, l => l.Contains("invalid-utf8", StringComparison.Ordinal));
        Assert.True(log.Length < 30, $"{log.Length} log lines for one flood:\n{serve.Error}");
    }

    [Fact]
    public async Task Json_logs_are_one_object_a_line_with_event_id_level_and_message()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--log-format", "json");
        var tcp = await serve.ListeningAsync("tcp");
        await SendTcpAsync(tcp, [(byte)'x', 0xFE, (byte)'\n']); // one bad-input warning besides the start and stop events
        await Eventually.Until(() => workspace.Count("rejects") == 1, "the reject");
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());

        var lines = serve.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 5, serve.Error);
        foreach (var line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            Assert.True(entry.RootElement.GetProperty("EventId").GetInt32() > 0, line);
            Assert.False(string.IsNullOrEmpty(entry.RootElement.GetProperty("LogLevel").GetString()), line);
            Assert.False(string.IsNullOrEmpty(entry.RootElement.GetProperty("Message").GetString()), line);
        }

        Assert.Contains(lines, l => l.Contains("\"LogLevel\":\"Warning\"", StringComparison.Ordinal) && l.Contains("invalid-utf8", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Status_once_prints_a_view_of_the_running_service()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");
        var http = await serve.ListeningAsync("http");
        await SendTcpAsync(tcp, "<13>one\n<13>two\n<13>three\n"u8.ToArray());
        await Eventually.Until(() => workspace.Count("messages") == 3, "the messages");

        await using var status = SpillwayProcess.Start(workspace.Directory, ["status", "--url", $"http://{http}", "--once", "--interval", "200ms"]);
        Assert.Equal(0, await status.WaitForExitAsync());
        var view = string.Join('\n', status.OutputLines);
        Assert.Contains("healthy", view, StringComparison.Ordinal);
        Assert.Matches(@"received tcp\s+│\s+\S+\s+│\s+3\s", view);
        Assert.Matches(@"stored\s+│\s+\S+\s+│\s+3\s", view);
        Assert.Matches(@"messages\s+│\s+0\s+│\s+100,000", view);
        Assert.Contains("listening", view, StringComparison.Ordinal);
        Assert.Contains("idle", view, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_says_when_it_cannot_reach_the_service()
    {
        using var workspace = new Workspace();
        using var unused = new TcpListener(IPAddress.Loopback, 0); // a port nobody answers HTTP on
        unused.Start();
        var port = ((IPEndPoint)unused.LocalEndpoint).Port;
        unused.Stop();

        await using var status = SpillwayProcess.Start(workspace.Directory, ["status", "--url", $"http://127.0.0.1:{port}", "--once"]);
        Assert.Equal(1, await status.WaitForExitAsync());
        Assert.Contains($"spillway status: cannot read http://127.0.0.1:{port}/", status.Error, StringComparison.Ordinal);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetHealthAsync(HttpClient client)
    {
        using var response = await client.GetAsync("health", Ct);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return (response.StatusCode, body.RootElement.Clone());
    }

    private static async Task SendTcpAsync(IPEndPoint endpoint, byte[] bytes)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, Ct);
        await socket.SendAsync(bytes, SocketFlags.None, Ct);
        socket.Shutdown(SocketShutdown.Send);
    }
}
