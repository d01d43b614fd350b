using Microsoft.Extensions.Configuration;
using Spillway.Checks;

namespace Spillway.Cli.Hosting;

/// <summary>What <see cref="ServeStartup"/> found: the settings, when they could be read, and every problem.</summary>
internal sealed record ServePlan(IConfiguration? Configuration, ServeSettings? Settings, SettingsReader? Reader, CheckReport Report)
{
    /// <summary>Whether <c>serve</c> may start: the settings were read and nothing is wrong.</summary>
    public bool CanStart => Settings is not null && Report.Problems.Count == 0;

    /// <summary>Writes every warning and then every problem, a line each, behind <c>spillway COMMAND:</c>.</summary>
    public async Task WriteReportAsync(TextWriter error, string command)
    {
        foreach (var warning in Report.Warnings)
        {
            await error.WriteLineAsync($"spillway {command}: warning: {warning}");
        }

        foreach (var problem in Report.Problems)
        {
            await error.WriteLineAsync($"spillway {command}: {problem}");
        }
    }
}
