using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Spillway.Cli.Status;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// The machine an operator's service meets one day: a spill directory on a disk far smaller than the budget, and a
/// process out of file descriptors. The service fills the disk and the descriptors without failing, and nothing a
/// sender was told was kept is lost.
/// </summary>
public sealed class SmallMachineTests
{
    /// <summary>A small filesystem of the tests' own, mounted by <c>./test.sh</c> when it runs as root.</summary>
    private const string SmallDiskVariable = "SPILLWAY_TEST_SMALL_DISK";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task On_a_disk_smaller_than_the_budget_a_burst_fills_it_without_failing_and_a_kill_9_with_it_full_loses_nothing_answered_200()
    {
        var disk = Environment.GetEnvironmentVariable(SmallDiskVariable);
        if (string.IsNullOrEmpty(disk))
        {
            Assert.Skip($"needs a small filesystem of its own in {SmallDiskVariable}: ./test.sh mounts a 20 MiB tmpfs when it runs as root");
        }

        using var workspace = new Workspace();
        var spillDirectory = Path.Combine(disk, Guid.NewGuid().ToString("N"));
        var filler = Path.Combine(disk, Guid.NewGuid().ToString("N") + ".filler");
        var other = Path.Combine(disk, Guid.NewGuid().ToString("N") + ".other");
        var answered = new ConcurrentBag<string>();
        var refused = new ConcurrentBag<string>();
        try
        {
            // 2 MiB to free after the crash, as an operator would.
            await File.WriteAllBytesAsync(filler, new byte[2 * 1024 * 1024], Ct);
            await using (var serve = ServeTests.StartServe(workspace, "--spill-dir", spillDirectory))
            {
                var tcp = await serve.ListeningAsync("tcp");
                var http = await serve.ListeningAsync("http");

                // Another program takes 4 MiB of the disk after serve has measured it: the log may meet the full disk
                // (ENOSPC) before it learns of it from the free space.
                await File.WriteAllBytesAsync(other, new byte[4 * 1024 * 1024], Ct);

                // The database away: the burst goes to the disk, which it fills.
                var blocker = workspace.Connect();
                var transaction = blocker.BeginTransaction(deferred: false);
                using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                await using var send = SpillwayProcess.StartBench(workspace.Directory, ["send", "--tcp", tcp.ToString(), "-n", "200000", "-c", "2"]);
                var posting = Enumerable.Range(0, 2).Select(c => PostAsync(http, c, answered, refused, stopLoad.Token)).ToArray();

                await Eventually.Until(() => !refused.IsEmpty || serve.HasExited, "the disk to fill and HTTP to be answered 503", TimeSpan.FromMinutes(2));
                Assert.False(serve.HasExited, "serve exited on a full disk: " + serve.Error);
                await Eventually.Until(() => refused.Count >= 100 || serve.HasExited, "more requests refused while the disk stays full", TimeSpan.FromMinutes(1));
                Assert.False(serve.HasExited, "serve exited on a full disk: " + serve.Error);
                Assert.False(answered.IsEmpty, "nothing was answered 200 before the disk filled");
                using (var client = new HttpClient { BaseAddress = new Uri($"http://{http}/") })
                {
                    // The budget (1 GiB) capped by the free space, and the log up to it: the disk is what ran out.
                    var metrics = PrometheusText.Parse(await client.GetStringAsync("metrics", Ct));
                    var limit = metrics.Sum("spillway_spill_size_limit_bytes");
                    Assert.InRange(limit, 1, 20 * 1024 * 1024);
                    Assert.True(metrics.Sum("spillway_spill_size_bytes") > limit / 2, $"the log holds {metrics.Sum("spillway_spill_size_bytes")} of {limit} bytes");
                }

                Assert.Matches("Spill log full|Spill log \\S+ refuses writes", serve.Error);
                Assert.DoesNotMatch("Spill log \\S+ failed", serve.Error);

                serve.Signal(SpillwayProcess.Sigkill); // with the disk full
                Assert.Equal(137, await serve.WaitForExitAsync());
                await stopLoad.CancelAsync();
                await Task.WhenAll(posting).WaitAsync(TestTimeouts.Wait, Ct);
                transaction.Dispose();
                blocker.Dispose();
            }

            File.Delete(filler);
            await using (var restarted = ServeTests.StartServe(workspace, "--spill-dir", spillDirectory))
            {
                await restarted.ListeningAsync("tcp");
                restarted.Signal(SpillwayProcess.Sigterm);
                Assert.Equal(0, await restarted.WaitForExitAsync(TimeSpan.FromMinutes(2)));
                var summary = restarted.ReadSummary();
                Assert.Equal(summary.Replayed, summary.Stored + summary.Rejected);
                Assert.Equal(0, restarted.ReadSpillSummary()["disk_bytes"]); // drained, nothing left behind
            }

            var stored = workspace.Messages();
            Assert.True(stored.Count == stored.Distinct().Count(), "a message was stored twice");
            var lost = answered.Except(stored).ToList();
            Assert.True(lost.Count == 0, $"{lost.Count} lines answered 200 were lost, such as {lost.FirstOrDefault()}");
            var kept = refused.Intersect(stored).ToList();
            Assert.True(kept.Count == 0, $"{kept.Count} lines answered 503 were stored, such as {kept.FirstOrDefault()}");
        }
        finally
        {
            File.Delete(filler);
            File.Delete(other);
            if (Directory.Exists(spillDirectory))
            {
                Directory.Delete(spillDirectory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Out_of_descriptors_serve_keeps_the_connections_it_has_says_so_in_health_and_takes_the_rest_once_they_return()
    {
        const int Connections = 600;
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };
        // The client's connection is open before the limit, and each endpoint served once (the runtime loads the
        // assemblies of a first /metrics lazily, which takes descriptors too).
        Assert.Equal(HttpStatusCode.OK, (await GetHealthAsync(client)).Status);
        Assert.NotEmpty(await client.GetStringAsync("metrics", Ct));

        // Room for 200 connections beyond the descriptors it has open (the runtime alone holds about 220: a literal
        // `ulimit -n 256` leaves it room for 30), so that the other 400 wait in the listen backlog (512), not in SYN retries.
        await LimitDescriptorsAsync(serve.Id, Directory.GetFileSystemEntries($"/proc/{serve.Id}/fd").Length + 200);

        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                var socket = new Socket(tcp.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(tcp, Ct); // the kernel completes it; serve may not be able to accept it
                await socket.SendAsync(Encoding.ASCII.GetBytes($"first {i}\n"), Ct);
            }

            var health = await Eventually.ValueAsync(
                async () => await GetHealthAsync(client), h => h.Status == HttpStatusCode.ServiceUnavailable, "/health to say the listener fails");
            var listener = health.Body.GetProperty("listeners").EnumerateArray().First(l => l.GetProperty("source").GetString() == "tcp");
            Assert.Equal("failing", listener.GetProperty("state").GetString());
            Assert.Contains("open files", listener.GetProperty("last_error").GetString(), StringComparison.OrdinalIgnoreCase);
            Assert.False(serve.HasExited, "serve exited for lack of descriptors: " + serve.Error);

            // The connections it has are still served, through the spill log, which needs no new descriptor to go on.
            var accepted = (int)await Eventually.ValueAsync(
                async () => PrometheusText.Parse(await client.GetStringAsync("metrics", Ct)).Sum("spillway_connections_open"), n => n > 0,
                "the connections accepted to show in /metrics");
            Assert.InRange(accepted, 1, Connections - 1);
            await Eventually.Until(() => workspace.Count("messages") >= accepted, "the accepted connections' lines stored");

            // Descriptors return as senders go away: the rest are accepted, their lines read and stored.
            foreach (var socket in sockets.Skip(100))
            {
                socket.Dispose();
            }

            await Eventually.Until(() => workspace.Count("messages") == Connections, "every connection's line stored", TimeSpan.FromMinutes(1));
            await Eventually.ValueAsync(async () => await GetHealthAsync(client), h => h.Status == HttpStatusCode.OK, "/health to recover");
            foreach (var (socket, i) in sockets.Take(100).Select((s, i) => (s, i)))
            {
                await socket.SendAsync(Encoding.ASCII.GetBytes($"second {i}\n"), Ct);
                socket.Dispose();
            }

            await Eventually.Until(() => workspace.Count("messages") == Connections + 100, "the kept connections' second lines stored");
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Single(serve.Error.Split('\n'), l => l.Contains("Accepting TCP connections", StringComparison.Ordinal)); // once a minute
        var stored = workspace.Messages();
        Assert.Equal(stored.Count, stored.Distinct().Count());
        Assert.Equal(
            Enumerable.Range(0, Connections).Select(i => $"first {i}").Concat(Enumerable.Range(0, 100).Select(i => $"second {i}")).Order(StringComparer.Ordinal),
            stored.Order(StringComparer.Ordinal));
    }

    /// <summary>Lowers the soft limit of open files of a running process (prlimit, from util-linux).</summary>
    private static async Task LimitDescriptorsAsync(int pid, int limit)
    {
        var start = new ProcessStartInfo("prlimit") { RedirectStandardError = true };
        foreach (var arg in new[] { "--pid", pid.ToString(CultureInfo.InvariantCulture), $"--nofile={limit}:" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        await process.WaitForExitAsync(Ct).WaitAsync(TestTimeouts.Wait, Ct);
        Assert.True(process.ExitCode == 0, "prlimit failed: " + await process.StandardError.ReadToEndAsync(Ct));
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> GetHealthAsync(HttpClient client)
    {
        using var response = await client.GetAsync("health", Ct);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        return (response.StatusCode, document.RootElement.Clone());
    }

    /// <summary>POSTs numbered lines until stopped, keeping those answered 200 and those answered 503 apart.</summary>
    private static async Task PostAsync(IPEndPoint http, int client, ConcurrentBag<string> answered, ConcurrentBag<string> refused, CancellationToken stop)
    {
        using var httpClient = new HttpClient { BaseAddress = new Uri($"http://{http}/"), Timeout = TestTimeouts.Wait };
        for (var request = 0; !stop.IsCancellationRequested; request++)
        {
            var lines = Enumerable.Range(0, 20).Select(i => string.Create(CultureInfo.InvariantCulture, $"http-{client}-{request}-{i}")).ToList();
            HttpStatusCode status;
            try
            {
                using var content = new StringContent(string.Join('\n', lines), Encoding.UTF8, "text/plain");
                using var response = await httpClient.PostAsync("ingest", content, stop);
                status = response.StatusCode;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                return; // killed mid-request: neither answer
            }

            var bag = status switch
            {
                HttpStatusCode.OK => answered,
                HttpStatusCode.ServiceUnavailable => refused,
                _ => throw new InvalidOperationException($"POST /ingest answered {(int)status}"),
            };
            foreach (var line in lines)
            {
                bag.Add(line);
            }
        }
    }
}
