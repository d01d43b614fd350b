using Spillway.Keys;

namespace Spillway.Cli.Tests;

public sealed class CommandLineTests
{
    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await Program.InvokeAsync(args, output, error).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task A_bad_flag_value_fails_serve_at_start_naming_the_flag()
    {
        var (code, output, error) = await RunAsync("serve", "--max-buffer-messages", "many");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal("spillway serve: invalid value 'many' for --max-buffer-messages (config key MaxBufferMessages, environment " +
            "SPILLWAY__MAXBUFFERMESSAGES): expected a whole number from 1 to 2147483647", error.TrimEnd());
    }

    [Fact]
    public async Task Serve_says_every_bad_setting_at_once_and_does_not_start()
    {
        var (code, output, error) = await RunAsync("serve", "--max-buffer-messages", "many", "--batch-linger", "soon", "--log-format", "xml");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("spillway serve: invalid value", l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_config_prints_the_settings_in_force_with_their_origin_and_exits_0()
    {
        using var directory = new TemporaryDirectory();
        var config = directory.Write("spillway.json", """{ "BatchSize": 500, "ListenUdp": "none" }""");
        var (code, output, error) = await RunAsync(
            "check-config", "--config", config, "--sqlite", Path.Combine(directory.Path, "db", "logs.db"), "--listen-tcp", "127.0.0.1:0",
            "--listen-http", "127.0.0.1:0");
        Assert.True(code == 0, error);
        Assert.Contains($"config file: {config}", output, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^BatchSize +500 +file$", output);
        Assert.Matches(@"(?m)^ListenUdp +none +file$", output);
        Assert.Matches(@"(?m)^ListenTcp +127\.0\.0\.1:0 +flag$", output);
        Assert.Matches(@"(?m)^BatchLinger +100ms +default$", output);
        Assert.Contains($"ok: SQLite database {Path.Combine(directory.Path, "db", "logs.db")}: created at the first start", output, StringComparison.Ordinal);
        Assert.Contains("no problem found", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(directory.Path, "db")), "check-config created the database's directory");
    }

    [Theory]
    [InlineData("0.0.0.0:0", true)]
    [InlineData("127.0.0.1:0", false)]
    public async Task Check_config_warns_of_an_admin_listener_beyond_loopback_that_asks_for_no_key(string admin, bool warned)
    {
        using var directory = new TemporaryDirectory();
        var (code, _, error) = await RunAsync("check-config", "--sqlite", Path.Combine(directory.Path, "logs.db"), "--listen-tcp", "127.0.0.1:0",
            "--listen-udp", "none", "--listen-http", "127.0.0.1:0", "--listen-admin", admin);
        Assert.True(code == 0, error);
        Assert.Equal(warned, error.Contains("warning: --listen-admin beyond loopback serves /metrics and /health to anyone", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_config_of_a_writer_node_reaches_the_cluster_and_says_the_stream_will_be_made_without_making_it()
    {
        using var directory = new TemporaryDirectory();
        var stream = Spillway.Testing.NatsCluster.StreamName("check");
        var (code, output, error) = await RunAsync("check-config", "--nats", Spillway.Testing.NatsCluster.Url(), "--role", "writer",
            "--nats-stream", stream, "--sqlite", Path.Combine(directory.Path, "logs.db"), "--listen-http", "127.0.0.1:0");

        Assert.True(code == 0, error);
        Assert.Contains($"stream {stream}: missing; the first node to start creates it", output, StringComparison.Ordinal);
        var (_, again, _) = await RunAsync("check-config", "--nats", Spillway.Testing.NatsCluster.Url(), "--role", "writer",
            "--nats-stream", stream, "--sqlite", Path.Combine(directory.Path, "logs.db"), "--listen-http", "127.0.0.1:0");
        Assert.Contains($"stream {stream}: missing", again, StringComparison.Ordinal); // the first check made nothing
    }

    [Fact]
    public async Task Check_config_of_an_edge_whose_servers_cannot_be_reached_says_so_and_exits_1()
    {
        var url = Spillway.Testing.NatsCluster.UnreachableUrl();

        var (code, _, error) = await RunAsync("check-config", "--nats", url, "--role", "edge", "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none",
            "--listen-http", "127.0.0.1:0", "--spill-dir", "none");

        Assert.Equal(1, code);
        Assert.Contains($"spillway check-config: cannot reach the NATS servers at {url}", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_prints_every_problem_one_a_line_and_exits_1()
    {
        using var directory = new TemporaryDirectory();
        var notADatabase = directory.Write("notes.db", "these are not the rows you are looking for");
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var (code, output, error) = await RunAsync(
            "check-config", "--sqlite", notADatabase, "--listen-tcp", $"127.0.0.1:{port}", "--listen-http", "127.0.0.1:0", "--listen-udp", "none",
            "--batch-size", "lots", "--spill-dir", Path.Combine(notADatabase, "spill"));
        Assert.Equal(1, code);
        Assert.Equal("", output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("spillway check-config: invalid value 'lots' for --batch-size", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"spillway check-config: cannot listen on tcp 127.0.0.1:{port} (--listen-tcp): the address is in use",
            StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("is not a SQLite database", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("the spill directory", StringComparison.Ordinal) && l.Contains("is a file", StringComparison.Ordinal));
        Assert.Equal("spillway check-config: 4 problem(s); serve would not start", lines[^1]);
    }

    [Fact]
    public async Task Check_config_masks_a_password_and_finds_an_unreachable_database()
    {
        // Port 1 on loopback: nothing listens there on a test machine.
        var (code, _, error) = await RunAsync(
            "check-config", "--postgres", "Host=127.0.0.1;Port=1;Username=spillway;Password=hunter2;Timeout=2", "--spill-dir", "none",
            "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "none");
        Assert.Equal(1, code);
        Assert.Contains("spillway check-config: cannot reach PostgreSQL at 127.0.0.1:1", error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_names_the_version_the_commit_the_runtime_and_the_database_libraries()
    {
        var (code, output, _) = await RunAsync("--version");
        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^spillway \d+\.\d+\.\d+", lines[0]);
        Assert.Matches(@"^commit: ([0-9a-f]{40}|unknown)$", lines[1]);
        Assert.StartsWith($"runtime: .NET {Environment.Version} (linux-x64, ", lines[2], StringComparison.Ordinal);
        Assert.Matches(@"^SQLite: 3\.\d+\.\d+ \(Microsoft\.Data\.Sqlite \d+\.\d+\.\d+\)$", lines[3]);
        Assert.Matches(@"^Npgsql: \d+\.\d+\.\d+$", lines[4]);
    }

    [Fact]
    public async Task A_missing_config_file_fails_serve_at_start_naming_the_file()
    {
        var (code, _, error) = await RunAsync("serve", "--config", "/nonexistent/spillway.json");
        Assert.Equal(1, code);
        Assert.Contains("config file '/nonexistent/spillway.json' does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_list_names_every_scenario_and_a_scenario_runs_with_exit_0()
    {
        var (code, output, _) = await RunAsync("demo", "list");
        Assert.Equal(0, code);
        Assert.Equal(9, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("thread ", output, StringComparison.Ordinal);

        (code, output, _) = await RunAsync("demo", "race", "--step", "1ms");
        Assert.Equal(0, code);
        Assert.Contains("shown: 2 updates, final value 1", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_options_are_validated()
    {
        var (code, _, error) = await RunAsync("demo", "queue-pipeline", "--capacity", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--capacity must be at least 1", error, StringComparison.Ordinal);

        (code, _, error) = await RunAsync("demo", "lock", "--step", "fast");
        Assert.NotEqual(0, code);
        Assert.Contains("invalid value 'fast' for --step", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_new_prints_a_fresh_secret_and_the_line_that_holds_only_its_hash()
    {
        var (code, output, error) = await RunAsync("key", "new", "billing-prod", "--rate", "200", "--burst", "1000");
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var (secret, line) = (lines[0], lines[1]);
        Assert.Matches("^spw_[A-Za-z0-9_-]{43}$", secret);
        Assert.DoesNotContain(secret[ApiKeySecret.Prefix.Length..], line, StringComparison.Ordinal);
        Assert.Contains("once", error, StringComparison.Ordinal);

        // The line is one the keys file takes, and the secret printed is the one it finds.
        using var directory = new TemporaryDirectory();
        using var store = new ApiKeyStore(new ApiKeyOptions { Path = directory.Write("keys", line + "\n") }, TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<ApiKeyStore>.Instance);
        var key = Assert.Single(store.Keys);
        Assert.Equal(("billing-prod", new ApiKeyLimit(200, 1000)), (key.Name, key.Limit));
        Assert.Same(key, store.Find(secret));
        Assert.Null(store.Find((await RunAsync("key", "new", "billing-prod")).Output.Split('\n')[0])); // each run, a new secret
    }

    [Theory]
    [InlineData("key new 'bad name'", "is not a key name")]
    [InlineData("key new ok --burst 5", "--burst needs --rate")]
    [InlineData("key new ok --rate 0", "invalid value '0' for --rate")]
    public async Task Key_new_refuses_what_the_keys_file_would(string command, string expected)
    {
        var args = System.Text.RegularExpressions.Regex.Matches(command, "'[^']*'|\\S+").Select(m => m.Value.Trim('\'')).ToArray();
        var (code, output, error) = await RunAsync(args);
        Assert.Equal(1, code);
        Assert.DoesNotContain("spw_", output, StringComparison.Ordinal); // the help, and no secret
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_the_service_and_operator_commands_and_not_the_load_tools()
    {
        var (code, output, _) = await RunAsync("--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "serve", "check-config", "demo", "status", "key", "query", "tail" })
        {
            Assert.Matches($@"(?m)^\s+{command}\s", output);
        }

        Assert.DoesNotMatch(@"(?m)^\s+(bench|send)\s", output); // spillway-bench's, in bench/Spillway.Bench
    }
}
