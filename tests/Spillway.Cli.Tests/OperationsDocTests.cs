using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Spillway.Cli.Commands;
using Spillway.Cli.Hosting;
using Spillway.Testing;

namespace Spillway.Cli.Tests;

/// <summary>docs/operations.md and deploy/ checked against the settings table, so the reference cannot drift.</summary>
public sealed partial class OperationsDocTests
{
    private static readonly string OperationsPath = Path.Combine(Repository.Root, "docs", "operations.md");

    [Fact]
    public void The_configuration_reference_in_the_docs_is_the_one_made_from_the_settings_table()
    {
        var doc = File.ReadAllText(OperationsPath);
        var start = doc.IndexOf(SettingsReference.Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(SettingsReference.End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"docs/operations.md has no {SettingsReference.Begin} ... {SettingsReference.End}");
        var current = doc[start..(end + SettingsReference.End.Length)] + Environment.NewLine;
        var generated = SettingsReference.Generate();
        if (current != generated && Environment.GetEnvironmentVariable("SPILLWAY_WRITE_DOCS") == "1")
        {
            File.WriteAllText(OperationsPath, doc[..start] + generated + doc[(end + SettingsReference.End.Length + Environment.NewLine.Length)..]);
            return;
        }

        Assert.True(current == generated,
            "docs/operations.md's configuration reference is not the one the settings table makes: " +
            "run SPILLWAY_WRITE_DOCS=1 dotnet test tests/Spillway.Cli.Tests -c Release");
    }

    [Fact]
    public void Every_setting_has_a_flag_a_key_a_variable_a_default_help_and_a_row_in_the_docs()
    {
        var doc = File.ReadAllText(OperationsPath);
        Assert.NotEmpty(SettingsTable.All);
        foreach (var setting in SettingsTable.All)
        {
            Assert.Matches("^--[a-z]+(-[a-z]+)*$", setting.Flag);
            Assert.Matches("^[A-Z][A-Za-z]+$", setting.Name);
            Assert.StartsWith("SPILLWAY__" + setting.Name.ToUpperInvariant(), setting.EnvironmentVariable, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(setting.DefaultText), $"{setting.Name} has no default");
            Assert.False(string.IsNullOrWhiteSpace(setting.Help), $"{setting.Name} has no help");
            Assert.False(string.IsNullOrWhiteSpace(setting.Expected), $"{setting.Name} says nothing of what it takes");
            Assert.Contains(setting.IsSwitch ? $"| `{setting.Flag}` " : $"| `{setting.Flag} ", doc, StringComparison.Ordinal);
        }

        Assert.Equal(SettingsTable.All.Count, SettingsTable.All.Select(s => s.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void Serve_and_check_config_take_every_setting_as_a_flag_with_its_default_in_the_help()
    {
        foreach (var command in new[] { ServeCommand.Create(), CheckConfigCommand.Create() })
        {
            var options = command.Options.ToDictionary(o => o.Name);
            foreach (var setting in SettingsTable.All)
            {
                Assert.True(options.TryGetValue(setting.Flag, out var option), $"{command.Name} has no {setting.Flag}");
                Assert.EndsWith($"[default: {setting.DefaultText}]", option.Description, StringComparison.Ordinal);
            }

            Assert.Equal([.. SettingsTable.All.Select(s => s.Flag).Append("--config").Order()], options.Keys.Where(k => k != "--help").Order());
        }
    }

    [Fact]
    public void Each_setting_is_read_from_its_key_and_its_flag_with_the_flag_winning()
    {
        // One value per kind that differs from every default, so a setting read from the wrong key would show.
        foreach (var setting in SettingsTable.All)
        {
            var sample = Sample(setting);
            var fromFile = ServeSettings.Read(Configuration(new(Companions(setting)) { [setting.Name] = sample }),
                new Dictionary<string, IReadOnlyList<string>>());
            var resolved = Assert.Single(fromFile.Reader.Resolved, r => r.Setting == setting);
            Assert.Equal(SettingOrigin.Configuration, resolved.Origin);
            Assert.DoesNotContain(fromFile.Reader.Problems, p => p.Contains(setting.Flag, StringComparison.Ordinal));

            var fromFlag = ServeSettings.Read(Configuration(new(Companions(setting)) { [setting.Name] = "not a value" }),
                new Dictionary<string, IReadOnlyList<string>> { [setting.Name] = [sample] });
            Assert.Equal(SettingOrigin.Flag, Assert.Single(fromFlag.Reader.Resolved, r => r.Setting == setting).Origin);
        }
    }

    [Fact]
    public void The_configuration_file_in_deploy_is_valid()
    {
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(Repository.Root, "deploy", "spillway.json")).Build();
        var settings = ServeSettings.Load(configuration, new Dictionary<string, IReadOnlyList<string>>());
        Assert.Equal("/var/lib/spillway/spillway.db", settings.Sqlite.Path);
        Assert.Equal(LogFormat.Json, settings.LogFormat);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.UnhealthyAfter);
    }

    [Fact]
    public void The_tls_example_in_deploy_is_valid_and_listens_on_the_registered_port_with_mutual_tls()
    {
        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(Repository.Root, "deploy", "spillway.tls.json")).Build();
        var settings = ServeSettings.Load(configuration, new Dictionary<string, IReadOnlyList<string>>());
        Assert.Equal(6514, Assert.Single(settings.ListenTls).Port);
        Assert.Single(settings.ListenHttps);
        Assert.Empty(settings.ListenTcp);
        Assert.Equal("/etc/spillway/tls/clients-ca.crt", settings.Tls?.ClientCaPath);
        Assert.Equal(["*.relays.example.com"], settings.Tls?.AllowedPeers);
        Assert.Equal("/etc/spillway/api-keys", settings.ApiKeys?.Path);
    }

    [Fact]
    public void The_systemd_unit_runs_the_packaged_serve_with_the_configuration_file_and_drains_on_stop()
    {
        var unit = Repository.Read("deploy/spillway.service");
        Assert.Contains("ExecStart=/usr/bin/spillway serve --config /etc/spillway/spillway.json", unit, StringComparison.Ordinal);
        Assert.Contains("KillSignal=SIGTERM", unit, StringComparison.Ordinal);
        Assert.Contains("Restart=on-failure", unit, StringComparison.Ordinal);
        Assert.Contains("StateDirectory=spillway", unit, StringComparison.Ordinal);
        Assert.Matches(UserLine(), unit);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    /// <summary>The settings one cannot go without: a TLS listener needs the certificate and key, a key its certificate.</summary>
    private static Dictionary<string, string?> Companions(Setting setting)
    {
        var companions = new Dictionary<string, string?>();
        if (setting == SettingsTable.ListenTls || setting == SettingsTable.ListenHttps || setting == SettingsTable.TlsKey
            || setting == SettingsTable.TlsCert || setting == SettingsTable.TlsClientCa || setting == SettingsTable.TlsAllowedPeer)
        {
            companions[SettingsTable.TlsCert.Name] = "/tmp/server.crt";
            companions[SettingsTable.TlsKey.Name] = "/tmp/server.key";
        }

        if (setting == SettingsTable.TlsAllowedPeer)
        {
            companions[SettingsTable.TlsClientCa.Name] = "/tmp/ca.crt";
        }

        if (setting == SettingsTable.ProtectAdmin)
        {
            companions[SettingsTable.ApiKeys.Name] = "/tmp/keys";
        }

        // The NATS settings take effect with the servers, and a user with a password.
        if (setting.Section == SettingSection.ScaleOut)
        {
            companions[SettingsTable.Nats.Name] = "nats://127.0.0.1:4222";
        }

        if (setting == SettingsTable.NatsUser || setting == SettingsTable.NatsPassword)
        {
            companions[SettingsTable.NatsUser.Name] = "edge";
            companions[SettingsTable.NatsPassword.Name] = "secret";
        }

        companions.Remove(setting.Name);
        return companions;
    }

    private static string Sample(Setting setting) => setting switch
    {
        Setting<System.Net.IPEndPoint> => "127.0.0.1:0",
        Setting<bool> => "true",
        Setting<TimeSpan> when setting.Section == SettingSection.ScaleOut => "7s",
        Setting<TimeSpan> => "1ms",
        Setting<long> when setting == SettingsTable.NatsReplicas => "2",
        Setting<long> when setting == SettingsTable.Writers => "1",
        Setting<long> when setting == SettingsTable.MaxBufferMessages => "20000",
        Setting<long> when setting == SettingsTable.HttpMaxBodyBytesInFlight => "128MiB",
        Setting<long> when setting.ValueName == "SIZE" => "2MiB",
        Setting<long> => "7",
        Setting<string> when setting == SettingsTable.Postgres => "Host=db;Username=spillway",
        Setting<string> when setting == SettingsTable.PostgresTablePrefix => "edge_",
        Setting<string> when setting == SettingsTable.TlsAllowedPeer => "*.example.com",
        Setting<string> when setting == SettingsTable.Nats => "nats://10.0.0.1:4222,nats://10.0.0.2:4222",
        Setting<string> when setting == SettingsTable.NatsStream => "EDGES",
        Setting<string> when setting == SettingsTable.NatsConsumer => "pool",
        Setting<string> when setting == SettingsTable.NatsSubject => "logs.batches",
        Setting<string> => "/tmp/sample",
        Setting<Spillway.Sinks.MessageIndexes> => "host,app",
        _ => setting.ValueName.Split('|')[^1],
    };

    [GeneratedRegex("(?m)^User=spillway$")]
    private static partial Regex UserLine();
}
