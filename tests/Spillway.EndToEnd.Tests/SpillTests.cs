using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Spillway.Cli.Status;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// The spill log as an operator relies on it: what serve acknowledged survives <c>kill -9</c>, a database outage fills
/// the disk instead of pushing back, a full disk budget pushes back and drops, and a damaged log still starts.
/// </summary>
public sealed class SpillTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_kill_9_at_a_random_moment_every_acknowledged_message_is_stored_exactly_once()
    {
        for (var iteration = 0; iteration < TestTimeouts.Iterations(3); iteration++)
        {
            var seed = Random.Shared.Next();
            var random = new Random(seed);
            using var workspace = new Workspace();
            var acknowledged = new ConcurrentBag<string>();
            var tcpSent = new ConcurrentDictionary<int, int>(); // connection -> lines written to its socket
            await using (var serve = ServeTests.StartServe(workspace, "--batch-size", "500", "--batch-linger", "5ms"))
            {
                var http = await serve.ListeningAsync("http");
                var tcp = await serve.ListeningAsync("tcp");
                using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                var load = Enumerable.Range(0, 3).Select(c => PostUntilFailureAsync(http, c, acknowledged, stopLoad.Token))
                    .Concat(Enumerable.Range(0, 2).Select(c => WriteTcpUntilFailureAsync(tcp, c, tcpSent, stopLoad.Token)))
                    .ToArray();

                var killAt = random.Next(50, 3_000);
                await Eventually.Until(() => acknowledged.Count >= killAt, $"{killAt} acknowledged messages (seed {seed})");
                serve.Signal(SpillwayProcess.Sigkill);
                Assert.Equal(137, await serve.WaitForExitAsync());
                await stopLoad.CancelAsync();
                await Task.WhenAll(load).WaitAsync(TestTimeouts.Wait, Ct);
            }

            await using (var restarted = ServeTests.StartServe(workspace))
            {
                await restarted.ListeningAsync("tcp");
                restarted.Signal(SpillwayProcess.Sigterm);
                Assert.Equal(0, await restarted.WaitForExitAsync());
                var summary = restarted.ReadSummary();
                Assert.Equal(summary.Replayed, summary.Stored + summary.Rejected);
            }

            var stored = workspace.Messages();
            Assert.True(stored.Count == stored.Distinct().Count(), $"a message was stored twice (seed {seed})");
            var missing = acknowledged.Except(stored).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} acknowledged messages were lost, such as {missing.FirstOrDefault()} (seed {seed})");

            // TCP has no acknowledgement; what a kill takes from it is the tail it had not yet written, never a message
            // from the middle: each connection's stored messages are a gap-free prefix of what it sent.
            foreach (var connection in tcpSent.Keys)
            {
                var numbers = stored.Where(m => m.StartsWith($"tcp-{connection}-", StringComparison.Ordinal))
                    .Select(m => int.Parse(m.AsSpan(m.LastIndexOf('-') + 1), CultureInfo.InvariantCulture)).Order().ToList();
                Assert.Equal(Enumerable.Range(0, numbers.Count), numbers);
            }
        }
    }

    [Fact]
    public async Task A_database_outage_under_a_burst_of_500000_pushes_nothing_back_and_drops_nothing()
    {
        const int Burst = 500_000;
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };

        // The database goes away: another connection holds its write lock.
        var blocker = workspace.Connect();
        var transaction = blocker.BeginTransaction(deferred: false);

        // With the memory buffer alone (100,000 messages) the sender would be pushed back; with the spill log it
        // finishes while the database is still away.
        await using (var send = SpillwayProcess.StartBench(workspace.Directory, ["send", "--tcp", tcp.ToString(), "-n", $"{Burst}", "-c", "4"]))
        {
            Assert.Equal(0, await send.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        }

        IReadOnlyList<Sample> metrics = [];
        await Eventually.Until(() =>
        {
            metrics = Scrape.Metrics(client);
            return metrics.Sum("spillway_messages_received_total") == Burst;
        }, "every message to be accepted");
        Assert.Equal(0, metrics.Sum("spillway_messages_stored_total"));
        Assert.Equal(0, metrics.Sum("spillway_messages_dropped_total"));
        Assert.True(metrics.Sum("spillway_spill_size_bytes") > Burst * 20L, "the burst is on disk");
        Assert.Equal(Burst, metrics.Sum("spillway_buffer_messages"));

        transaction.Dispose();
        blocker.Dispose();
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        Assert.Equal(new SpillwayProcess.Summary(Burst, Burst, 0, 0), serve.ReadSummary());
        Assert.Equal(Burst, workspace.Count("messages"));
    }

    [Fact]
    public async Task With_the_disk_budget_spent_tcp_is_pushed_back_and_udp_dropped_and_nothing_accepted_is_lost()
    {
        // The sender must still have messages to send once the budget is spent, beyond what the kernel's socket
        // buffers take in for serve without serve reading them (tens of MiB on Linux loopback): twice that.
        const int Size = 1_000;
        var tcpMessages = (int)(2 * KernelTcpBufferBytes() / Size);
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--spill-max-bytes", "1MiB");
        var tcp = await serve.ListeningAsync("tcp");
        var udp = await serve.ListeningAsync("udp");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };
        var blocker = workspace.Connect();
        var transaction = blocker.BeginTransaction(deferred: false);

        await using var send = SpillwayProcess.StartBench(
            workspace.Directory, ["send", "--tcp", tcp.ToString(), "-n", $"{tcpMessages}", "--size", $"{Size}", "-c", "1"]);
        IReadOnlyList<Sample> metrics = [];
        await Eventually.Until(() =>
        {
            metrics = Scrape.Metrics(client);
            return metrics.Sum("spillway_spill_size_bytes") > 900 * 1024;
        }, "the spill log to fill its budget");
        Assert.True(metrics.Sum("spillway_spill_size_bytes") <= 1024 * 1024);
        Assert.False(send.HasExited, "the TCP sender finished although the budget is spent");
        Assert.True(metrics.Sum("spillway_messages_received_total", l => l["source"] == "tcp") < tcpMessages);

        using (var datagrams = new UdpClient())
        {
            for (var i = 0; i < 100; i++)
            {
                await datagrams.SendAsync(Encoding.UTF8.GetBytes($"<14>datagram {i}"), udp, Ct);
            }
        }

        await Eventually.Until(() =>
            Scrape.Metrics(client)
                .Sum("spillway_messages_dropped_total", l => l["source"] == "udp") > 0, "a datagram to be dropped");

        transaction.Dispose();
        blocker.Dispose();
        Assert.Equal(0, await send.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromMinutes(2)));

        var summary = serve.ReadSummary();
        Assert.Equal(summary.Accepted, summary.Stored + summary.Dropped);
        Assert.True(summary.Dropped is > 0 and <= 100, summary.ToString());
        Assert.Equal(tcpMessages + 100 - summary.Dropped, summary.Stored);
        Assert.Equal(summary.Stored, workspace.Count("messages"));
        Assert.Single(serve.Error.Split('\n'), l => l.Contains("Spill log full", StringComparison.Ordinal)); // said once
    }

    [Fact]
    public async Task A_damaged_record_is_quarantined_at_the_next_start_and_every_other_one_stored()
    {
        using var workspace = new Workspace();
        await using (var serve = ServeTests.StartServe(workspace))
        {
            var tcp = await serve.ListeningAsync("tcp");
            using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };
            var blocker = workspace.Connect();
            var transaction = blocker.BeginTransaction(deferred: false);
            await using (var send = SpillwayProcess.StartBench(workspace.Directory, ["send", "--tcp", tcp.ToString(), "-n", "1000"]))
            {
                Assert.Equal(0, await send.WaitForExitAsync());
            }

            await Eventually.Until(() =>
                Scrape.Metrics(client).Sum("spillway_messages_received_total") == 1000,
                "the messages to be accepted");

            // The database stays away: the first signal waits for it, the second forces the stop, the log keeps all.
            serve.Signal(SpillwayProcess.Sigterm);
            await Eventually.Until(() => serve.Error.Contains("SIGTERM received", StringComparison.Ordinal), "the first signal to be taken");
            serve.Signal(SpillwayProcess.Sigterm);
            Assert.Equal(3, await serve.WaitForExitAsync());
            Assert.Contains("1000 accepted messages were not stored yet; they are in the spill log", serve.Error, StringComparison.Ordinal);
            Assert.Equal(1000, serve.ReadSpillSummary()["unstored"]);
            transaction.Dispose();
            blocker.Dispose();
        }

        var segment = Assert.Single(Directory.GetFiles(workspace.Database + ".spill", "*.log"));
        var bytes = File.ReadAllBytes(segment);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(segment, bytes);

        await using (var restarted = ServeTests.StartServe(workspace))
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://{await restarted.ListeningAsync("http")}/") };
            await Eventually.Until(() =>
                Scrape.Metrics(client).Sum("spillway_messages_stored_total") == 999,
                "the undamaged messages to be stored");
            var metrics = PrometheusText.Parse(await client.GetStringAsync("metrics", Ct));
            Assert.Equal(1, metrics.Sum("spillway_spill_quarantined_total"));
            Assert.Equal(999, metrics.Sum("spillway_spill_replayed_total"));
            restarted.Signal(SpillwayProcess.Sigterm);
            Assert.Equal(0, await restarted.WaitForExitAsync());
            Assert.Equal(new SpillwayProcess.Summary(0, 999, 0, 0, 999), restarted.ReadSummary());
            var spill = restarted.ReadSpillSummary();
            Assert.Equal((0, 1), (spill["unstored"], spill["quarantined"]));
            Assert.True(spill["quarantined_bytes"] > 0);
            Assert.Contains("Spill log damage", restarted.Error, StringComparison.Ordinal);
        }

        Assert.Equal(999, workspace.Count("messages"));
        Assert.Single(Directory.GetFiles(Path.Combine(workspace.Database + ".spill", "quarantine")));
    }

    [Fact]
    public async Task A_second_serve_on_the_same_spill_log_is_refused_in_one_line_and_the_first_goes_on()
    {
        using var workspace = new Workspace();
        await using var first = ServeTests.StartServe(workspace);
        await first.ListeningAsync("tcp");

        await using (var second = ServeTests.StartServe(workspace))
        {
            Assert.Equal(1, await second.WaitForExitAsync());
            var lines = second.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            // One line says why; a warning (a disk with less room than the budget) may come before it.
            var error = Assert.Single(lines, l =>
                l.StartsWith("spillway serve:", StringComparison.Ordinal) && !l.StartsWith("spillway serve: warning:", StringComparison.Ordinal));
            Assert.Contains("cannot open the spill log", error, StringComparison.Ordinal);
            Assert.Contains("another process holds it", error, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", second.Error, StringComparison.Ordinal);
        }

        first.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await first.WaitForExitAsync());
    }

    /// <summary>
    /// The most one TCP connection's socket buffers may hold between two processes: the receiver's buffer grows up to
    /// the third value of <c>tcp_rmem</c>, the sender's up to that of <c>tcp_wmem</c>.
    /// </summary>
    private static long KernelTcpBufferBytes()
    {
        static long Max(string name) =>
            long.Parse(File.ReadAllText($"/proc/sys/net/ipv4/{name}").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[2],
                CultureInfo.InvariantCulture);

        return Max("tcp_rmem") + Max("tcp_wmem");
    }

    /// <summary>POSTs batches of 20 numbered lines until the service goes away, keeping every line answered 200.</summary>
    private static async Task PostUntilFailureAsync(IPEndPoint http, int client, ConcurrentBag<string> acknowledged, CancellationToken stop)
    {
        using var httpClient = new HttpClient { BaseAddress = new Uri($"http://{http}/"), Timeout = TestTimeouts.Wait };
        for (var request = 0; !stop.IsCancellationRequested; request++)
        {
            var lines = Enumerable.Range(0, 20).Select(i => string.Create(CultureInfo.InvariantCulture, $"http-{client}-{request}-{i}")).ToList();
            try
            {
                using var content = new StringContent(string.Join('\n', lines), Encoding.UTF8, "text/plain");
                using var response = await httpClient.PostAsync("ingest", content, stop);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                return; // the service was killed mid-request: this batch is not acknowledged
            }

            foreach (var line in lines)
            {
                acknowledged.Add(line);
            }
        }
    }

    /// <summary>Writes numbered lines to one TCP connection until it breaks, counting what reached the socket.</summary>
    private static async Task WriteTcpUntilFailureAsync(IPEndPoint tcp, int connection, ConcurrentDictionary<int, int> sent, CancellationToken stop)
    {
        using var socket = new Socket(tcp.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(tcp, stop);
        for (var n = 0; !stop.IsCancellationRequested; n += 100)
        {
            var chunk = new StringBuilder();
            for (var i = n; i < n + 100; i++)
            {
                chunk.Append(CultureInfo.InvariantCulture, $"tcp-{connection}-{i}\n");
            }

            try
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes(chunk.ToString()), SocketFlags.None, stop);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                return;
            }

            sent[connection] = n + 100;
        }
    }
}
