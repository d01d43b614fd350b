using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Spillway.Cli.Commands;
using Spillway.Cli.Hosting;
using Spillway.Testing;

namespace Spillway.Cli.Tests;

/// <summary>docs/operations.md and deploy/ checked against the settings serve reads, so the reference cannot drift.</summary>
public sealed partial class OperationsDocTests
{
    private static readonly ServeKey[] Keys = [.. typeof(ServeKeys).GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (ServeKey)f.GetValue(null)!)];

    [Fact]
    public void Every_declared_setting_is_in_the_list_serve_checks_keys_against()
    {
        Assert.Equal(Keys, ServeKeys.All);
    }

    [Fact]
    public void The_configuration_table_has_a_row_for_every_setting_with_its_key_and_no_other()
    {
        var rows = ConfigurationRows();
        foreach (var key in Keys)
        {
            Assert.True(rows.TryGetValue(key.Flag, out var row), $"docs/operations.md has no row for {key.Flag}");
            Assert.Contains($"`{key.ConfigKey}`", row, StringComparison.Ordinal);
        }

        Assert.Equal([.. Keys.Select(k => k.Flag).Append("--config").Order()], rows.Keys.Order());
    }

    [Fact]
    public void Every_option_of_serve_is_a_documented_setting()
    {
        var rows = ConfigurationRows();
        foreach (var option in ServeCommand.Create().Options.Where(o => o.Name.StartsWith("--", StringComparison.Ordinal)))
        {
            Assert.True(option.Name is "--help" || rows.ContainsKey(option.Name), $"serve {option.Name} is not in docs/operations.md");
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
    public void The_systemd_unit_runs_serve_with_the_configuration_file_and_drains_on_stop()
    {
        var unit = Repository.Read("deploy/spillway.service");
        Assert.Contains("ExecStart=/opt/spillway/spillway serve --config /etc/spillway/spillway.json", unit, StringComparison.Ordinal);
        Assert.Contains("KillSignal=SIGTERM", unit, StringComparison.Ordinal);
        Assert.Contains("Restart=on-failure", unit, StringComparison.Ordinal);
    }

    /// <summary>The configuration table's rows, by the flag in their first cell.</summary>
    private static Dictionary<string, string> ConfigurationRows()
    {
        var doc = Repository.Read("docs/operations.md");
        var start = doc.IndexOf("## Configuration", StringComparison.Ordinal);
        var end = doc.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "docs/operations.md has no Configuration section");
        return doc[start..end].Split('\n')
            .Select(line => (Line: line, Match: FlagCell().Match(line)))
            .Where(x => x.Match.Success)
            .ToDictionary(x => x.Match.Groups[1].Value, x => x.Line);
    }

    [GeneratedRegex(@"^\| `(--[a-z-]+)")]
    private static partial Regex FlagCell();
}
