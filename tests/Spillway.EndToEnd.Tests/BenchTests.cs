using System.Text.Json;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// <c>spillway-bench</c> on a small N: it runs both halves and reports every message stored once. Its figures are
/// not asserted: speed is for the benchmark to measure, not for a test.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class BenchTests
{
    [Fact]
    public async Task Bench_on_sqlite_runs_both_halves_and_reports_nothing_lost()
    {
        using var workspace = new Workspace();
        var report = await RunBenchAsync(workspace, "--directory", Path.Combine(workspace.Directory, "bench"));

        Assert.Equal("sqlite", report.GetProperty("sink").GetString());
        Assert.True(report.GetProperty("ceiling_rows_per_second").GetProperty("min").GetDouble() > 0);
        Assert.True(report.GetProperty("end_to_end_messages_per_second").GetProperty("min").GetDouble() > 0);
        Assert.True(report.GetProperty("peak_rss_bytes").GetProperty("min").GetDouble() > 1 << 20);
        Assert.True(report.GetProperty("spill_end_to_end_messages_per_second").GetProperty("min").GetDouble() > 0); // on and off, in one run
        Assert.True(report.GetProperty("spill_ratio").GetProperty("min").GetDouble() > 0);
        Assert.True(report.GetProperty("spill_peak_rss_bytes").GetProperty("min").GetDouble() > 1 << 20);
        Assert.Empty(Directory.GetFiles(Path.Combine(workspace.Directory, "bench"), "*.db")); // the last run's database is gone
    }

    [Fact]
    public async Task Bench_on_postgres_runs_both_halves_and_reports_nothing_lost()
    {
        var connectionString = PostgresServer.ConnectionString();
        using var workspace = new Workspace();
        var report = await RunBenchAsync(workspace, "--sink", "postgres", "--postgres", connectionString, "--writers", "2");

        Assert.Equal("postgres", report.GetProperty("sink").GetString());
        Assert.Equal(2, report.GetProperty("writers").GetInt32());
    }

    [Fact]
    public async Task Bench_measures_a_setting_on_and_off_in_one_run_over_expired_rows_that_never_count_as_the_runs()
    {
        using var workspace = new Workspace();
        var report = await RunBenchAsync(workspace, "--spill", "off", "--expired-rows", "2000", "--versus-arg=--retention", "--versus-arg=30d");

        Assert.Equal(["--retention", "30d"], report.GetProperty("versus_arguments").EnumerateArray().Select(a => a.GetString()));
        Assert.True(report.GetProperty("versus_end_to_end_messages_per_second").GetProperty("min").GetDouble() > 0);
        Assert.True(report.GetProperty("versus_ratio").GetProperty("min").GetDouble() > 0);
        Assert.Equal(2000, report.GetProperty("expired_rows").GetInt64());
    }

    [Fact]
    public async Task Bench_measures_another_build_beside_its_own_in_one_run()
    {
        using var workspace = new Workspace();
        var other = Path.Combine(AppContext.BaseDirectory, "spillway.dll"); // the same build, run through dotnet exec: another path
        var report = await RunBenchAsync(workspace, "--spill", "on", "--versus-serve", other);

        Assert.Equal(other, report.GetProperty("versus_serve").GetString());
        Assert.True(report.GetProperty("versus_end_to_end_messages_per_second").GetProperty("min").GetDouble() > 0);
        Assert.True(report.GetProperty("versus_peak_rss_bytes").GetProperty("min").GetDouble() > 1 << 20);
        Assert.False(report.TryGetProperty("end_to_end_messages_per_second", out _)); // spill on only: the other build beside that
    }

    [Fact]
    public async Task Bench_measures_tls_beside_plain_tcp_in_one_run_with_every_message_stored_once()
    {
        using var workspace = new Workspace();
        var report = await RunBenchAsync(workspace, "--tls", "--spill", "off");

        Assert.False(report.GetProperty("tls_spill_on").GetBoolean());
        Assert.True(report.GetProperty("tls_end_to_end_messages_per_second").GetProperty("min").GetDouble() > 0);
        Assert.True(report.GetProperty("tls_ratio").GetProperty("min").GetDouble() > 0);
        Assert.True(report.GetProperty("tls_peak_rss_bytes").GetProperty("min").GetDouble() > 1 << 20);
        Assert.False(report.TryGetProperty("spill_end_to_end_messages_per_second", out _)); // spill off only: TLS beside that
    }

    [Fact]
    public async Task Bench_measures_one_writer_node_against_two_through_the_stream_with_every_message_stored_once()
    {
        var connectionString = PostgresServer.ConnectionString();
        using var workspace = new Workspace();
        await using var bench = SpillwayProcess.StartBench(workspace.Directory,
            ["--topology", "--nats", NatsCluster.Url(), "--sink", "postgres", "--postgres", connectionString, "-n", "3000", "--warmup", "500",
                "--runs", "1", "--batch-size", "500"]);
        var exitCode = await bench.WaitForExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, $"bench exited with {exitCode}:\n{bench.Error}");

        Assert.Contains(bench.OutputLines, l => l.StartsWith("two writers / one: ", StringComparison.Ordinal));
        using var json = JsonDocument.Parse(bench.OutputLines[^1]);
        Assert.Equal("nats-jetstream", json.RootElement.GetProperty("topology").GetString());
        var runs = json.RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.Single(runs);
        Assert.All(runs, run =>
        {
            Assert.Equal([1, 2], run.EnumerateArray().Select(h => h.GetProperty("writers").GetInt32()));
            Assert.All(run.EnumerateArray(), half =>
            {
                Assert.True(half.GetProperty("msg_per_s").GetDouble() > 0);
                Assert.True(half.GetProperty("edge_peak_bytes").GetInt64() > 1 << 20);
                Assert.Equal((0, 0, 0), (half.GetProperty("lost").GetInt64(), half.GetProperty("duplicated").GetInt64(), half.GetProperty("rejected").GetInt64()));
            });
        });
    }

    [Theory]
    [InlineData("--sink postgres needs --postgres", "--sink", "postgres")]
    [InlineData("--topology measures nodes on NATS JetStream into PostgreSQL", "--topology", "--nats", "nats://127.0.0.1:4222")]
    [InlineData("--versus-arg compares one setting at a time", "--versus-arg=--indexes", "--versus-arg=time")] // beside both spill halves
    public async Task Bench_refuses_what_it_cannot_run_and_says_why(string reason, params string[] args)
    {
        using var workspace = new Workspace();
        await using var bench = SpillwayProcess.StartBench(workspace.Directory, args);
        Assert.NotEqual(0, await bench.WaitForExitAsync());
        Assert.Contains(reason, bench.Error, StringComparison.Ordinal);
    }

    private static async Task<JsonElement> RunBenchAsync(Workspace workspace, params string[] args)
    {
        const int Messages = 3_000;
        await using var bench = SpillwayProcess.StartBench(workspace.Directory,
            ["-n", $"{Messages}", "--warmup", "500", "--runs", "2", "--connections", "3", "--batch-size", "500", .. args]);
        var exitCode = await bench.WaitForExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, $"bench exited with {exitCode}:\n{bench.Error}");

        // The last line of stdout is the JSON report, for scripts; the table above it is for people.
        var lines = bench.OutputLines;
        Assert.Contains(lines, l => l.StartsWith("end-to-end", StringComparison.Ordinal) && l.Contains("/ ceiling", StringComparison.Ordinal));
        using var json = JsonDocument.Parse(lines[^1]);
        var report = json.RootElement.Clone();
        Assert.Equal(Messages, report.GetProperty("messages").GetInt64());
        Assert.Equal(500, report.GetProperty("warmup").GetInt64());
        Assert.Equal(2, report.GetProperty("runs").GetInt32());
        Assert.Equal(0, report.GetProperty("lost").GetInt64());
        Assert.Equal(0, report.GetProperty("duplicated").GetInt64());
        Assert.Equal(0, report.GetProperty("rejected").GetInt64());
        Assert.True(report.GetProperty("exact").GetBoolean());
        Assert.InRange(report.GetProperty("cpu_busy_before").GetProperty("max").GetDouble(), 0, 1); // /proc/stat, sampled before each run
        Assert.Equal(2, bench.Error.Split('\n').Count(l => l.Contains(": ratio ", StringComparison.Ordinal))); // a progress line per run
        return report;
    }
}
