using Spillway.Bench;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>The built CLI as a process: real sockets, a real SQLite file, real signals.</summary>
public sealed class ServeTests
{
    private const int Messages = 200_000;
    private const int Connections = 20;

    [Fact]
    public async Task A_burst_from_20_connections_is_stored_whole_and_the_exit_summary_adds_up()
    {
        for (var run = 0; run < TestTimeouts.Iterations(2); run++)
        {
            using var workspace = new Workspace();
            await using var serve = StartServe(workspace);
            var endpoint = await serve.ListeningAsync();

            await using var send = SpillwayProcess.StartBench(workspace.Directory,
                ["send", "--tcp", endpoint.ToString(), "-n", $"{Messages}", "--connections", $"{Connections}", "--framing", run % 2 == 0 ? "lf" : "octet"]);
            Assert.Equal(0, await send.WaitForExitAsync());

            serve.Signal(run % 2 == 0 ? SpillwayProcess.Sigterm : SpillwayProcess.Sigint);
            Assert.Equal(0, await serve.WaitForExitAsync());

            var summary = serve.ReadSummary();
            Assert.Equal(new SpillwayProcess.Summary(Messages, Messages, 0, 0), summary);
            AssertLossless(workspace, summary, Messages);
        }
    }

    [Theory]
    [InlineData(1_000, "lf", "0s")]
    [InlineData(1_000, "octet", "0s")]
    [InlineData(40_000, "octet", "5s")]
    [InlineData(120_000, "lf", "5s")]
    public async Task A_stop_while_senders_are_sending_stores_every_accepted_message_once(int storedBeforeStop, string framing, string stopReadTimeout)
    {
        for (var run = 0; run < TestTimeouts.Iterations(2); run++)
        {
            using var workspace = new Workspace();
            await using var serve = StartServe(workspace, "--batch-size", "1000", "--stop-read-timeout", stopReadTimeout);
            var endpoint = await serve.ListeningAsync();
            await using var send = SpillwayProcess.StartBench(workspace.Directory,
                ["send", "--tcp", endpoint.ToString(), "-n", $"{Messages}", "--connections", $"{Connections}", "--framing", framing]);

            await Eventually.Until(() => workspace.Count("messages") >= storedBeforeStop || send.HasExited, $"{storedBeforeStop} rows");
            serve.Signal(SpillwayProcess.Sigterm);
            Assert.Equal(0, await serve.WaitForExitAsync());
            await send.WaitForExitAsync(); // cut off (exit 1) or finished first (exit 0): either way the service lost nothing

            var summary = serve.ReadSummary();
            Assert.True(summary.Stored >= storedBeforeStop, $"stored {summary.Stored} < {storedBeforeStop}");
            if (stopReadTimeout == "0s")
            {
                // Stopped this early, with 100,000 messages of buffer and no reading after the stop, the senders
                // cannot have finished: this run is a real cut in the middle of the streams.
                Assert.True(summary.Accepted < Messages, $"accepted all {summary.Accepted}: the stop came too late to test a cut");
            }

            AssertLossless(workspace, summary, Messages);
        }
    }

    [Fact]
    public async Task A_second_signal_during_the_drain_exits_3_and_says_how_many_messages_were_not_stored()
    {
        using var workspace = new Workspace();
        await using var serve = StartServe(workspace);
        var endpoint = await serve.ListeningAsync();

        // Another process's write lock: every batch fails and is retried, so the drain cannot finish.
        using var blocker = workspace.Connect();
        using var transaction = blocker.BeginTransaction(deferred: false);
        await using (var send = SpillwayProcess.StartBench(workspace.Directory, ["send", "--tcp", endpoint.ToString(), "-n", "1000"]))
        {
            Assert.Equal(0, await send.WaitForExitAsync());
        }

        await Eventually.Until(() => serve.Error.Contains("retrying in", StringComparison.Ordinal), "a failed write to be logged");
        serve.Signal(SpillwayProcess.Sigterm);
        await Eventually.Until(() => serve.Error.Contains("SIGTERM received", StringComparison.Ordinal), "the first signal to be taken");
        serve.Signal(SpillwayProcess.Sigterm);

        Assert.Equal(3, await serve.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(new SpillwayProcess.Summary(1000, 0, 0, 0), serve.ReadSummary());
        Assert.Contains("stop forced: 1000 accepted messages were not stored", serve.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_spill_log_a_udp_flood_into_a_full_buffer_is_dropped_counted_in_the_summary_and_logged_once()
    {
        using var workspace = new Workspace();
        await using var serve = StartServe(workspace, "--spill-dir", "none", "--max-buffer-messages", "10", "--batch-size", "10");
        var udp = await serve.ListeningAsync("udp");

        // Hold the database so that nothing leaves the buffer: after ten datagrams, every other one finds it full.
        var blocker = workspace.Connect();
        var transaction = blocker.BeginTransaction(deferred: false);
        using var client = new System.Net.Sockets.UdpClient();
        client.Connect(udp);
        for (var i = 0; i < 500; i++)
        {
            await client.SendAsync(System.Text.Encoding.ASCII.GetBytes($"<14>flood {i}"), TestContext.Current.CancellationToken);
        }

        await Eventually.Until(() => serve.Error.Contains("buffer-full", StringComparison.Ordinal), "the drop to be logged");
        transaction.Dispose();
        blocker.Dispose();
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());

        var summary = serve.ReadSummary();
        Assert.Equal(summary.Accepted, summary.Stored + summary.Rejected + summary.Dropped);
        Assert.Equal(10, summary.Stored);
        Assert.True(summary.Dropped > 0, $"nothing dropped: {summary}");
        Assert.Equal(10, workspace.Count("messages"));
        Assert.Single(serve.Error.Split('\n'), line => line.Contains("buffer-full (", StringComparison.Ordinal)); // logged once, not per datagram
    }

    [Fact]
    public async Task A_database_that_cannot_be_opened_fails_start_with_exit_1_and_the_reason()
    {
        using var workspace = new Workspace();
        await using var serve = SpillwayProcess.Start(workspace.Directory, ["serve", "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "none", "--sqlite", workspace.Directory]);
        Assert.Equal(1, await serve.WaitForExitAsync());
        Assert.Contains($"spillway serve: the SQLite database '{workspace.Directory}' is a directory", serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(serve.OutputLines, l => l.StartsWith("listening", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Flags_win_over_the_environment_which_wins_over_the_config_file()
    {
        using var workspace = new Workspace();
        var config = Path.Combine(workspace.Directory, "spillway.json");
        await File.WriteAllTextAsync(config, """{ "BatchLinger": "from-file", "ListenTcp": [ "127.0.0.1:0" ] }""", TestContext.Current.CancellationToken);
        var environment = new Dictionary<string, string> { ["SPILLWAY__BATCHLINGER"] = "from-env" };

        async Task<string> ErrorOf(IReadOnlyDictionary<string, string>? env, params string[] args)
        {
            await using var serve = SpillwayProcess.Start(workspace.Directory, ["serve", "--config", config, .. args], env);
            Assert.Equal(1, await serve.WaitForExitAsync());
            return serve.Error;
        }

        Assert.Contains("invalid value 'from-flag' for --batch-linger", await ErrorOf(environment, "--batch-linger", "from-flag"), StringComparison.Ordinal);
        Assert.Contains("invalid value 'from-env' for --batch-linger", await ErrorOf(environment), StringComparison.Ordinal);
        Assert.Contains("invalid value 'from-file' for --batch-linger", await ErrorOf(null), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lines_piped_into_send_land_in_the_messages_table()
    {
        using var workspace = new Workspace();
        await using var serve = StartServe(workspace);
        var endpoint = await serve.ListeningAsync();
        await using (var send = SpillwayProcess.StartBench(workspace.Directory, ["send", "--tcp", endpoint.ToString()]))
        {
            await send.WriteInputAsync("hello\nworld\n\nlast line without LF");
            Assert.Equal(0, await send.WaitForExitAsync());
        }

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(["hello", "world", "last line without LF"], workspace.Messages());
        Assert.Equal(new SpillwayProcess.Summary(3, 3, 0, 0), serve.ReadSummary());
    }

    internal static SpillwayProcess StartServe(Workspace workspace, params string[] extra) =>
        SpillwayProcess.Start(workspace.Directory,
            ["serve", "--listen-tcp", "127.0.0.1:0", "--listen-udp", "127.0.0.1:0", "--listen-http", "127.0.0.1:0", "--sqlite", workspace.Database,
                .. extra]);

    /// <summary>
    /// Nothing accepted is lost or doubled: the totals add up, the tables hold exactly what the summary says, and
    /// each connection's messages are a gap-free prefix of what it sent (TCP is ordered, so a stop can only cut a
    /// connection's tail, never a message from its middle).
    /// </summary>
    private static void AssertLossless(Workspace workspace, SpillwayProcess.Summary summary, int sent)
    {
        Assert.Equal(summary.Accepted, summary.Stored + summary.Rejected + summary.Dropped);
        Assert.Equal(0, summary.Dropped);

        var messages = workspace.Messages();
        Assert.Equal(summary.Stored, messages.Count);
        var rejects = workspace.RejectReasons();
        Assert.Equal(summary.Rejected, rejects.Count);
        Assert.All(rejects, reason => Assert.Equal("truncated", reason)); // at most one cut frame per connection
        Assert.InRange(rejects.Count, 0, Connections);

        var seqs = messages.Select(m => MessageGenerator.TryParse(m, out var seq) ? seq : throw new InvalidOperationException($"not sent: {m}")).ToList();
        Assert.Equal(seqs.Count, seqs.Distinct().Count());
        foreach (var connection in Enumerable.Range(0, Connections))
        {
            var mine = seqs.Where(s => s % Connections == connection).Order().ToList();
            Assert.Equal(Enumerable.Range(0, mine.Count).Select(k => (long)connection + (long)k * Connections), mine);
            Assert.True(mine.Count == 0 || mine[^1] < sent);
        }
    }
}
