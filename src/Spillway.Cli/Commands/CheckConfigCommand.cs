using System.CommandLine;
using Spillway.Cli.Hosting;

namespace Spillway.Cli.Commands;

/// <summary>
/// <c>spillway check-config</c>: reads and checks everything <c>serve</c> would, with the same flags and
/// <c>--config</c>, and starts nothing. Prints the settings in force and exits 0, or every problem and exits 1.
/// </summary>
internal static class CheckConfigCommand
{
    public static Command Create() => SettingOptions.Command("check-config",
        "Check the settings serve would run with (values, unknown keys, addresses, database, spill directory) and print them; " +
        "exit 1 with every problem, one a line. Takes the same flags and --config as serve; run it as the user serve runs as",
        RunAsync);

    private static async Task<int> RunAsync(
        FileInfo? configFile, Dictionary<string, IReadOnlyList<string>> flags, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var plan = await ServeStartup.PrepareAsync(configFile, flags, cancellationToken);
        await plan.WriteReportAsync(error, "check-config");
        if (!plan.CanStart)
        {
            await error.WriteLineAsync($"spillway check-config: {plan.Report.Problems.Count} problem(s); serve would not start");
            return 1;
        }

        await output.WriteLineAsync($"config file: {configFile?.FullName ?? "none (defaults, the environment and flags)"}");
        var resolved = plan.Reader!.Resolved;
        var width = resolved.Max(r => r.Setting.Name.Length) + 2;
        var valueWidth = Math.Min(48, resolved.Max(r => r.Value.Length));
        await output.WriteLineAsync($"{"setting".PadRight(width)}{"value".PadRight(valueWidth)}  from");
        foreach (var (setting, value, origin) in resolved)
        {
            await output.WriteLineAsync($"{setting.Name.PadRight(width)}{value.PadRight(valueWidth)}  {origin.ToString().ToLowerInvariant()}");
        }

        foreach (var fact in plan.Report.Facts)
        {
            await output.WriteLineAsync($"ok: {fact}");
        }

        await output.WriteLineAsync("spillway check-config: no problem found; serve would start with these settings");
        return 0;
    }
}
