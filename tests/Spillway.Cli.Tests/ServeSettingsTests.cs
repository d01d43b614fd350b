using System.Net;
using Microsoft.Extensions.Configuration;
using Spillway.Cli.Hosting;
using Spillway.Pipeline;
using Spillway.Sinks;
using Spillway.Sinks.Sqlite;
using Spillway.Spill;

namespace Spillway.Cli.Tests;

public sealed class ServeSettingsTests
{
    private static ServeSettings Load(Dictionary<string, string?>? config = null, Dictionary<string, IReadOnlyList<string>>? flags = null) =>
        ServeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(config ?? []).Build(), flags ?? []);

    [Fact]
    public void With_nothing_set_it_listens_on_5514_and_writes_spillway_db_with_the_documented_bounds()
    {
        var settings = Load();
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 5514)], settings.ListenTcp);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 5514)], settings.ListenUdp);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 5515)], settings.ListenHttp);
        Assert.Equal(FullPolicy.Wait, settings.Tcp.WhenFull);
        Assert.Equal(FullPolicy.Drop, settings.Udp.WhenFull);
        Assert.Equal(FullPolicy.Drop, settings.Http.WhenFull);
        Assert.Equal(4 << 20, settings.Udp.ReceiveBufferBytes);
        Assert.Equal(4L << 20, settings.Http.MaxBodyBytes);
        Assert.Equal("spillway.db", settings.Sqlite.Path);
        Assert.Equal(SqliteSynchronous.Normal, settings.Sqlite.Synchronous);
        Assert.Equal(100_000, settings.Buffer.MaxMessages);
        Assert.Equal(2L * 1024 * 1024, settings.Buffer.MaxBytes); // with the spill log, on by default: the disk holds the burst
        Assert.Equal(64 * 1024, settings.MaxMessageBytes);
        Assert.Equal(10_000, settings.Batch.BatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(100), settings.Batch.Linger);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.UnhealthyAfter);
        Assert.Equal(LogFormat.Text, settings.LogFormat);
    }

    [Theory]
    [InlineData(null, "none", 64L << 20)] // memory alone holds the burst
    [InlineData(null, "spill", 2L << 20)] // the spill log holds it on disk
    [InlineData("8MiB", "none", 8L << 20)] // a value given is taken either way
    [InlineData("8MiB", "spill", 8L << 20)]
    public void The_memory_bound_defaults_to_what_the_buffer_needs_with_and_without_the_spill_log(string? given, string spillDir, long expected)
    {
        var flags = new Dictionary<string, IReadOnlyList<string>> { ["SpillDir"] = [spillDir] };
        if (given is not null)
        {
            flags["MaxBufferBytes"] = [given];
        }

        Assert.Equal(expected, Load(flags: flags).Buffer.MaxBytes);
    }

    [Fact]
    public void An_unknown_key_stops_serve_naming_it_rather_than_leaving_a_setting_at_its_default()
    {
        var error = Assert.Throws<SettingsException>(() => Load(new() { ["MaxBufferMessage"] = "500", ["Logging:LogLevel:Default"] = "Debug" }));
        Assert.Equal("unknown setting 'MaxBufferMessage' in the configuration: did you mean MaxBufferMessages?", error.Message);

        var settings = Load(new() { ["maxbuffermessages"] = "50000", ["Logging:LogLevel:Default"] = "Debug" }); // keys are case-insensitive
        Assert.Equal(50_000, settings.Buffer.MaxMessages);
    }

    [Fact]
    public void The_health_threshold_and_the_log_format_are_settings_like_the_others()
    {
        var settings = Load(new() { ["UnhealthyAfter"] = "2m" }, new() { ["LogFormat"] = ["json"] });
        Assert.Equal(TimeSpan.FromMinutes(2), settings.UnhealthyAfter);
        Assert.Equal(LogFormat.Json, settings.LogFormat);
    }

    [Fact]
    public void The_retention_reaches_whichever_sink_is_in_use_and_is_off_unless_set()
    {
        Assert.Equal(TimeSpan.Zero, Load().Sqlite.Retention);
        Assert.Equal(TimeSpan.FromDays(30), Load(flags: new() { ["Retention"] = ["30d"] }).Sqlite.Retention);
        var postgres = Load(new() { ["Postgres"] = "Host=db;Username=u;Database=d", ["Retention"] = "12h" });
        Assert.Equal(TimeSpan.FromHours(12), postgres.Postgres!.Retention);
    }

    [Fact]
    public void The_indexes_and_the_size_bound_reach_the_sink_and_a_bound_that_cannot_work_is_refused()
    {
        Assert.Equal((MessageIndexes.None, 0L), (Load().Sqlite.Indexes, Load().Sqlite.MaxBytes));
        var sqlite = Load(flags: new() { ["Indexes"] = ["host,time"], ["MaxDbBytes"] = ["10GiB"] }).Sqlite;
        Assert.Equal((MessageIndexes.Host | MessageIndexes.Time, 10L << 30), (sqlite.Indexes, sqlite.MaxBytes));
        Assert.Equal(MessageIndexes.App, Load(new() { ["Postgres"] = "Host=db;Username=u;Database=d", ["Indexes"] = "app" }).Postgres!.Indexes);

        Assert.Contains("--max-db-bytes (config key MaxDbBytes", Assert.Throws<SettingsException>(() =>
            Load(new() { ["MaxDbBytes"] = "64KiB" })).Message, StringComparison.Ordinal);
        Assert.Contains("bounds the SQLite file only", Assert.Throws<SettingsException>(() =>
            Load(new() { ["Postgres"] = "Host=db;Username=u;Database=d", ["MaxDbBytes"] = "1GiB" })).Message, StringComparison.Ordinal);
        Assert.Contains("--indexes", Assert.Throws<SettingsException>(() => Load(new() { ["Indexes"] = "hostname" })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Flags_win_over_configuration_and_a_flag_list_replaces_the_configured_list()
    {
        var settings = Load(
            new()
            {
                ["MaxBufferMessages"] = "500", ["BatchSize"] = "50", ["ListenTcp:0"] = "127.0.0.1:1000", ["ListenTcp:1"] = "127.0.0.1:1001",
                ["Sqlite"] = "from-config.db",
            },
            new() { ["MaxBufferMessages"] = ["700"], ["ListenTcp"] = ["127.0.0.1:0"] });

        Assert.Equal(700, settings.Buffer.MaxMessages);
        Assert.Equal(50, settings.Batch.BatchSize);
        Assert.Equal("from-config.db", settings.Sqlite.Path);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 0)], settings.ListenTcp);
    }

    [Theory]
    [InlineData("MaxBufferMessages", "lots", "invalid value 'lots' for --max-buffer-messages (config key MaxBufferMessages")]
    [InlineData("MaxBufferMessages", "0", "invalid value '0' for --max-buffer-messages")]
    [InlineData("MaxBufferBytes", "64 parsecs", "invalid value '64 parsecs' for --max-buffer-bytes")]
    [InlineData("MaxMessageBytes", "-1", "invalid value '-1' for --max-message-bytes")]
    [InlineData("BatchSize", "1.5", "invalid value '1.5' for --batch-size")]
    [InlineData("BatchLinger", "100", "invalid value '100' for --batch-linger (config key BatchLinger, environment SPILLWAY__BATCHLINGER)")]
    [InlineData("ListenTcp:0", "127.0.0.1", "invalid value '127.0.0.1' for --listen-tcp")]
    [InlineData("ListenTcp:0", "example.com:80", "invalid value 'example.com:80' for --listen-tcp")]
    [InlineData("SqliteSynchronous", "sometimes", "invalid value 'sometimes' for --sqlite-synchronous (config key SqliteSynchronous, environment SPILLWAY__SQLITESYNCHRONOUS): expected one of off, normal, full, extra")]
    [InlineData("SqliteSynchronous", "1", "invalid value '1' for --sqlite-synchronous")]
    [InlineData("Sqlite", " ", "invalid value ' ' for --sqlite")]
    [InlineData("TcpWhenFull", "sometimes", "invalid value 'sometimes' for --tcp-when-full (config key TcpWhenFull, environment SPILLWAY__TCPWHENFULL): expected one of wait, drop")]
    [InlineData("UdpReceiveBuffer", "12", "invalid value '12' for --udp-receive-buffer")]
    [InlineData("HttpMaxBodyBytes", "2GiB", "invalid value '2GiB' for --http-max-body-bytes")]
    [InlineData("ListenHttp:0", "nowhere", "invalid value 'nowhere' for --listen-http")]
    [InlineData("UnhealthyAfter", "soon", "invalid value 'soon' for --unhealthy-after (config key UnhealthyAfter")]
    [InlineData("LogFormat", "xml", "invalid value 'xml' for --log-format (config key LogFormat, environment SPILLWAY__LOGFORMAT): expected one of text, json")]
    public void A_bad_value_fails_with_a_message_naming_the_flag_and_key(string key, string value, string message)
    {
        var error = Assert.Throws<SettingsException>(() => Load(new() { [key] = value }));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bounds_that_cannot_work_together_are_refused_naming_both()
    {
        var error = Assert.Throws<SettingsException>(() => Load(new() { ["MaxMessageBytes"] = "2MiB", ["MaxBufferBytes"] = "1MiB" }));
        Assert.Contains("--max-message-bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("--max-buffer-bytes", error.Message, StringComparison.Ordinal);

        error = Assert.Throws<SettingsException>(() => Load(new() { ["BatchSize"] = "200", ["MaxBufferMessages"] = "100" }));
        Assert.Contains("--batch-size (config key BatchSize", error.Message, StringComparison.Ordinal);
        Assert.Contains("--max-buffer-messages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_spill_log_is_on_beside_the_database_unless_turned_off()
    {
        var sqlite = Load(new() { ["Sqlite"] = "/var/lib/spillway/logs.db" }).Spill;
        Assert.NotNull(sqlite);
        Assert.Equal("/var/lib/spillway/logs.db.spill", sqlite.Directory);
        Assert.Equal(SpillOptions.DefaultMaxBytes, sqlite.MaxBytes);
        Assert.Equal(SpillFsync.Batch, sqlite.Fsync);

        Assert.Equal("spillway.spill", Load(new() { ["Postgres"] = "Host=db;Username=spillway" }).Spill?.Directory);
        Assert.Null(Load(new() { ["SpillDir"] = "none" }).Spill);

        var tuned = Load(new() { ["SpillDir"] = "/spill", ["SpillMaxBytes"] = "10GiB", ["SpillFsync"] = "interval", ["SpillFsyncInterval"] = "200ms" }).Spill;
        Assert.Equal(new SpillOptions { Directory = "/spill", MaxBytes = 10L << 30, Fsync = SpillFsync.Interval, FsyncInterval = TimeSpan.FromMilliseconds(200) }, tuned);
    }

    [Theory]
    [InlineData("SpillFsync", "sometimes", "invalid value 'sometimes' for --spill-fsync (config key SpillFsync")]
    [InlineData("SpillMaxBytes", "1KiB", "invalid value '1KiB' for --spill-max-bytes")]
    [InlineData("SpillDir", " ", "invalid value ' ' for --spill-dir")]
    public void A_bad_spill_setting_is_refused_naming_it(string key, string value, string expected)
    {
        var error = Assert.Throws<SettingsException>(() => Load(new() { [key] = value }));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_spill_budget_smaller_than_four_of_the_longest_message_is_refused()
    {
        var error = Assert.Throws<SettingsException>(() => Load(new() { ["SpillMaxBytes"] = "2MiB", ["MaxMessageBytes"] = "1MiB" }));
        Assert.Contains("--spill-max-bytes (config key SpillMaxBytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("--max-message-bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Postgres_replaces_sqlite_and_takes_two_writers_unless_told_otherwise()
    {
        var settings = Load(new() { ["Postgres"] = "Host=db;Username=spillway", ["PostgresTablePrefix"] = "edge_" });
        Assert.Equal("Host=db;Username=spillway", settings.Postgres?.ConnectionString);
        Assert.Equal("edge_", settings.Postgres?.TablePrefix);
        Assert.Equal(2, settings.Writers);

        Assert.Equal(4, Load(new() { ["Postgres"] = "Host=db", ["Writers"] = "4" }).Writers);
        Assert.Null(Load().Postgres);
        Assert.Equal(1, Load().Writers);
    }

    [Theory]
    [InlineData("Writers", "3", null, "--writers (config key Writers, environment SPILLWAY__WRITERS) is 3, but SQLite takes one writer at a time")]
    [InlineData("Postgres", "Host=db;Bogus Key=1", null, "invalid PostgreSQL settings (--postgres, --postgres-table-prefix)")]
    [InlineData("Postgres", "Host=db", "Bad-Prefix", "invalid PostgreSQL settings (--postgres, --postgres-table-prefix): 'Bad-Prefix' is not a table prefix")]
    public void Postgres_settings_that_cannot_work_are_refused(string key, string value, string? prefix, string message)
    {
        var config = new Dictionary<string, string?> { [key] = value };
        if (prefix is not null)
        {
            config["PostgresTablePrefix"] = prefix;
        }

        var error = Assert.Throws<SettingsException>(() => Load(config));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void None_turns_a_listener_off_but_not_all_of_them()
    {
        var settings = Load(new() { ["ListenUdp"] = "none", ["ListenHttp:0"] = "None" });
        Assert.Empty(settings.ListenUdp);
        Assert.Empty(settings.ListenHttp);
        Assert.Single(settings.ListenTcp);

        var error = Assert.Throws<SettingsException>(() => Load(new() { ["ListenTcp"] = "none", ["ListenUdp"] = "none", ["ListenHttp"] = "none" }));
        Assert.StartsWith("nothing to listen on", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sizes_durations_and_lists_accept_the_forms_an_operator_writes()
    {
        var settings = Load(new()
        {
            ["MaxBufferBytes"] = "128 MiB", ["MaxMessageBytes"] = "8KiB", ["BatchLinger"] = "1.5s", ["ListenTcp"] = "127.0.0.1:0, [::1]:0",
            ["MaxBufferMessages"] = "200_000", ["SqliteSynchronous"] = "FULL",
        });
        Assert.Equal(128L << 20, settings.Buffer.MaxBytes);
        Assert.Equal(8192, settings.MaxMessageBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), settings.Batch.Linger);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.IPv6Loopback, 0)], settings.ListenTcp);
        Assert.Equal(200_000, settings.Buffer.MaxMessages);
        Assert.Equal(SqliteSynchronous.Full, settings.Sqlite.Synchronous);
    }

    [Fact]
    public void Every_problem_is_reported_not_only_the_first()
    {
        var error = Assert.Throws<SettingsException>(() => Load(new()
        {
            ["MaxBufferMessages"] = "lots", ["BatchSize"] = "0", ["LogFormat"] = "xml", ["Bogus"] = "1", ["SpillFsync"] = "sometimes",
        }));
        Assert.Equal(5, error.Problems.Count);
        Assert.Equal(error.Problems, error.Message.Split(Environment.NewLine));
        Assert.Contains(error.Problems, p => p.StartsWith("unknown setting 'Bogus'", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("invalid value 'lots' for --max-buffer-messages", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("invalid value '0' for --batch-size", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("invalid value 'xml' for --log-format", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("invalid value 'sometimes' for --spill-fsync", StringComparison.Ordinal));
    }

    [Fact]
    public void Api_keys_are_off_unless_given_and_protect_admin_needs_them()
    {
        var none = Load();
        Assert.Null(none.ApiKeys);
        Assert.False(none.ProtectAdmin);

        var keyed = Load(new() { ["ApiKeys"] = "/etc/spillway/keys", ["ProtectAdmin"] = "true" });
        Assert.Equal("/etc/spillway/keys", keyed.ApiKeys?.Path);
        Assert.True(keyed.ProtectAdmin);
        Assert.True(keyed.Http.ProtectAdmin, "--protect-admin did not reach the HTTP source");

        var error = Assert.Throws<SettingsException>(() => Load(new() { ["ProtectAdmin"] = "true" }));
        Assert.Equal(
            "--protect-admin makes /metrics and /health ask for an API key: give the keys with --api-keys",
            Assert.Single(error.Problems));
    }

    [Fact]
    public void A_refused_value_does_not_set_off_the_checks_that_compare_it_with_another()
    {
        // Taken at its default, the refused size would be compared with the buffer and blamed for a problem it did not make.
        var error = Assert.Throws<SettingsException>(() => Load(new() { ["MaxMessageBytes"] = "huge", ["MaxBufferBytes"] = "1KiB" }));
        var problem = Assert.Single(error.Problems);
        Assert.StartsWith("invalid value 'huge' for --max-message-bytes", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_password_is_masked_in_the_settings_shown_and_in_the_errors()
    {
        var (_, reader) = ServeSettings.Read(
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Postgres"] = "Host=db;Username=spillway;Password='s3cr;et';Database=logs",
            }).Build(),
            new Dictionary<string, IReadOnlyList<string>>());
        var shown = Assert.Single(reader.Resolved, r => r.Setting == SettingsTable.Postgres).Value;
        Assert.Equal("Host=db;Username=spillway;Password=********;Database=logs", shown);

        Assert.Equal("Host=db;PWD=********", SettingsReader.Mask("Host=db;PWD=hunter2"));
        Assert.Equal("Password=********;Host=db", SettingsReader.Mask("Password=\"a;b\";Host=db"));
        Assert.DoesNotContain("hunter2", SettingsReader.Mask("Host=db; Password = hunter2 ;Port=5"), StringComparison.Ordinal);
    }

    [Fact]
    public void Where_each_value_came_from_is_kept_file_environment_flag_or_default()
    {
        var file = Path.Combine(Path.GetTempPath(), $"spillway-origin-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{ "BatchSize": 500, "LogFormat": "json", "ListenTcp": ["127.0.0.1:0"] }""");
        const string Prefix = "SPILLWAY_ORIGIN_TEST__";
        Environment.SetEnvironmentVariable(Prefix + "LOGFORMAT", "text");
        try
        {
            var configuration = new ConfigurationBuilder().AddJsonFile(file).AddEnvironmentVariables(Prefix).Build();
            var (settings, reader) = ServeSettings.Read(configuration, new Dictionary<string, IReadOnlyList<string>> { ["UnhealthyAfter"] = ["5s"] });
            Assert.Empty(reader.Problems);
            var origins = reader.Resolved.ToDictionary(r => r.Setting.Name, r => (r.Value, r.Origin));
            Assert.Equal(("500", SettingOrigin.File), origins["BatchSize"]);
            Assert.Equal(("127.0.0.1:0", SettingOrigin.File), origins["ListenTcp"]);
            Assert.Equal(("text", SettingOrigin.Environment), origins["LogFormat"]);
            Assert.Equal(("5s", SettingOrigin.Flag), origins["UnhealthyAfter"]);
            Assert.Equal(("100ms", SettingOrigin.Default), origins["BatchLinger"]);
            Assert.Equal(LogFormat.Text, settings.LogFormat);
            Assert.Equal(SettingsTable.All.Count, reader.Resolved.Count);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Prefix + "LOGFORMAT", null);
            File.Delete(file);
        }
    }

    [Fact]
    public void A_scalar_setting_given_an_object_is_refused_naming_it()
    {
        var error = Assert.Throws<SettingsException>(() => Load(new() { ["BatchSize:0"] = "1", ["BatchSize:1"] = "2" }));
        Assert.StartsWith("invalid value for --batch-size", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_limits_at_the_edges_are_settings_and_the_bodies_in_flight_hold_at_least_one_body()
    {
        var settings = Load(new() { ["TcpMaxConnections"] = "500", ["TcpIdleTimeout"] = "10m", ["HttpMaxBodyBytesInFlight"] = "16MiB" });
        Assert.Equal(500, settings.Tcp.MaxConnections);
        Assert.Equal(TimeSpan.FromMinutes(10), settings.Tcp.IdleTimeout);
        Assert.Equal(16L << 20, settings.Http.MaxBodyBytesInFlight);
        Assert.Equal(TimeSpan.Zero, Load().Tcp.IdleTimeout);

        var error = Assert.Throws<SettingsException>(() => Load(new() { ["HttpMaxBodyBytesInFlight"] = "1MiB", ["HttpMaxBodyBytes"] = "2MiB" }));
        Assert.StartsWith("--http-max-body-bytes-in-flight (config key HttpMaxBodyBytesInFlight", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_nats_the_node_stores_itself_and_a_role_is_refused_for_want_of_servers()
    {
        var settings = Load();
        Assert.Null(settings.JetStream);
        Assert.True(settings.Listens && settings.Stores && !settings.Publishes);

        var ex = Assert.Throws<SettingsException>(() => Load(flags: new() { ["Role"] = ["edge"] }));
        Assert.Contains("--role", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--nats", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_edge_publishes_with_two_writers_and_a_writer_listens_for_no_sender_and_serves_admin_on_the_http_address()
    {
        var edge = Load(flags: new() { ["Nats"] = ["nats://10.0.0.1:4222, nats://10.0.0.2:4222"], ["Role"] = ["edge"] });
        Assert.Equal(["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"], edge.JetStream!.Servers);
        Assert.True(edge.Listens && edge.Publishes && !edge.Stores);
        Assert.Equal(2, edge.Writers);
        Assert.NotNull(edge.Spill);

        var writer = Load(flags: new() { ["Nats"] = ["nats://10.0.0.1:4222"], ["Role"] = ["writer"], ["ListenHttp"] = ["127.0.0.1:9100"] });
        Assert.True(!writer.Listens && !writer.Publishes && writer.Stores);
        Assert.Empty(writer.ListenTcp.Concat(writer.ListenUdp).Concat(writer.ListenHttp).Concat(writer.ListenTls).Concat(writer.ListenHttps));
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 9100)], writer.ListenAdmin);
        Assert.Null(writer.Spill);
        Assert.Equal(1, writer.Writers); // SQLite

        var both = Load(flags: new() { ["Nats"] = ["nats://10.0.0.1:4222"] });
        Assert.Equal(NodeRole.All, both.Role);
        Assert.True(both.Listens && both.Publishes && both.Stores);
    }

    [Theory]
    [InlineData("Nats", "10.0.0.1:4222", "not a NATS server URL")]
    [InlineData("NatsStream", "logs.edges", "not a stream name")]
    [InlineData("NatsSubject", "logs.*", "not a subject")]
    [InlineData("NatsUser", "edge", "go together")]
    [InlineData("NatsReplicas", "7", "--nats-replicas")]
    [InlineData("NatsAckWait", "10ms", "--nats-ack-wait")]
    public void A_nats_setting_that_cannot_work_is_refused_with_the_reason(string key, string value, string expected)
    {
        var flags = new Dictionary<string, IReadOnlyList<string>> { ["Nats"] = ["nats://127.0.0.1:4222"], [key] = [value] };

        var ex = Assert.Throws<SettingsException>(() => Load(flags: flags));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }
}
