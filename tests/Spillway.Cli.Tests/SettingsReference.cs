using System.Text;
using Spillway.Cli.Hosting;

namespace Spillway.Cli.Tests;

/// <summary>
/// The configuration reference of docs/operations.md, made from <see cref="SettingsTable"/>: a table per section, a
/// row per setting with its flag, key, variable, default and help. The doc holds it between two markers; a test
/// checks that what is there is what this makes, and writes it there when <c>SPILLWAY_WRITE_DOCS=1</c>.
/// </summary>
internal static class SettingsReference
{
    public const string Begin = "<!-- settings:begin -->";
    public const string End = "<!-- settings:end -->";

    private static readonly Dictionary<SettingSection, string> Headings = new()
    {
        [SettingSection.Listeners] = "Listeners",
        [SettingSection.Tls] = "TLS",
        [SettingSection.ApiKeys] = "API keys",
        [SettingSection.Database] = "Database",
        [SettingSection.Buffer] = "Buffer and batches",
        [SettingSection.SpillLog] = "Spill log",
        [SettingSection.ScaleOut] = "Scale-out on NATS JetStream",
        [SettingSection.Operations] = "Stop, health and log",
    };

    public static string Generate()
    {
        var text = new StringBuilder();
        text.AppendLine(Begin);
        text.AppendLine("<!-- Made from src/Spillway.Cli/Hosting/SettingsTable.cs: edit that, then run");
        text.AppendLine("     SPILLWAY_WRITE_DOCS=1 dotnet test tests/Spillway.Cli.Tests -c Release to write it here. -->");
        foreach (var section in Enum.GetValues<SettingSection>())
        {
            text.AppendLine();
            text.AppendLine($"### {Headings[section]}");
            text.AppendLine();
            text.AppendLine("| flag | config key | environment | default | |");
            text.AppendLine("|---|---|---|---|---|");
            foreach (var setting in SettingsTable.All.Where(s => s.Section == section))
            {
                text.AppendLine(
                    $"| `{(setting.IsSwitch ? setting.Flag : $"{setting.Flag} {Cell(setting.ValueName)}")}` | `{setting.Name}`{(setting.IsList ? " (a list)" : "")} | `{setting.EnvironmentVariable}` " +
                    $"| {Default(setting)} | {Cell(setting.Help)}{(setting.Reloadable ? " (taken on reload)" : "")} |");
            }
        }

        text.AppendLine();
        var reloadable = SettingsTable.All.Count(s => s.Reloadable);
        text.AppendLine(reloadable == 0
            ? "Every setting is read at start: none changes while `serve` runs, so a change takes a restart."
            : $"{reloadable} settings, marked \"taken on reload\", change while `serve` runs; the others take a restart.");
        text.AppendLine(End);
        return text.ToString();
    }

    private static string Default(Setting setting) =>
        setting.DefaultText.Contains(' ', StringComparison.Ordinal) ? Cell(setting.DefaultText) : $"`{Cell(setting.DefaultText)}`";

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
