using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spillway.Cli.Hosting;
using Spillway.Diagnostics;
using Spillway.Keys;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Sinks;
using Spillway.Spill;
using Spillway.Tls;

namespace Spillway.Cli.Commands;

/// <summary><c>spillway serve</c>: listen, buffer, write; on a signal, drain and print the summary.</summary>
internal static class ServeCommand
{
    /// <summary>Exit codes of <c>spillway serve</c>, documented in the README.</summary>
    public static class ExitCodes
    {
        public const int Drained = 0;
        public const int StartFailed = 1;
        public const int Fatal = 2;
        public const int Forced = 3;
    }

    public static Command Create() => SettingOptions.Command("serve",
        "Listen for messages and store them in the database; SIGINT or SIGTERM drains and stops",
        RunAsync);

    private static async Task<int> RunAsync(
        FileInfo? configFile, Dictionary<string, IReadOnlyList<string>> flags, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        // The same checks as check-config: every problem is said, one a line, and serve does not start.
        var plan = await ServeStartup.PrepareAsync(configFile, flags, cancellationToken);
        await plan.WriteReportAsync(error, "serve");
        if (!plan.CanStart)
        {
            return ExitCodes.StartFailed;
        }

        var settings = plan.Settings!;
        PrivateFiles.Apply();
        IHost host;
        try
        {
            // Opens the spill log already (recovering it): the metrics are made over it as the host is built.
            host = ServeHost.Build(settings, plan.Configuration!);
        }
        catch (Exception ex) when (ex is SpillUnavailableException or TlsCredentialsException or ApiKeyFileException)
        {
            await error.WriteLineAsync($"spillway serve: {ex.Message}");
            return ExitCodes.StartFailed;
        }

        using (host)
        {
            return await RunHostAsync(host, settings, output, error, cancellationToken);
        }
    }

    private static async Task<int> RunHostAsync(
        IHost host, ServeSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var service = host.Services.GetRequiredService<IngestService>();
        var shutdown = host.Services.GetRequiredService<ShutdownControl>();
        var stats = host.Services.GetRequiredService<IngestStats>();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is SinkUnavailableException or ListenFailedException or SpillUnavailableException)
        {
            await error.WriteLineAsync($"spillway serve: {ex.Message}");
            return ExitCodes.StartFailed;
        }

        foreach (var (_, transport, endpoint) in service.Listening)
        {
            await output.WriteLineAsync($"listening {transport.ToName()} {endpoint}");
        }

        foreach (var endpoint in host.Services.GetRequiredService<Spillway.Http.HttpSource>().AdminBound)
        {
            await output.WriteLineAsync($"listening admin {endpoint}");
        }

        await output.FlushAsync(cancellationToken);
        await host.WaitForShutdownAsync(CancellationToken.None);

        await output.WriteLineAsync(stats.Summary());
        if (host.Services.GetRequiredService<IBufferDiagnostics>().Summary() is { } bufferSummary)
        {
            await output.WriteLineAsync(bufferSummary);
        }

        if (host.Services.GetService<StreamWriters>() is { } streamWriters)
        {
            await output.WriteLineAsync(streamWriters.Summary());
        }

        await output.FlushAsync(CancellationToken.None);
        if (shutdown.Fatal is { } fatal)
        {
            await error.WriteLineAsync($"spillway serve: fatal: {fatal.Message}; {stats.Pending} accepted messages were not stored");
            return ExitCodes.Fatal;
        }

        if (shutdown.Forced && stats.Pending > 0)
        {
            await error.WriteLineAsync(!settings.Listens
                ? $"spillway serve: stop forced: {stats.Pending} messages taken from the stream were not stored yet; they are handed back to " +
                  "it, for another writer or this one's next start"
                : settings.Spill is { } spill
                ? $"spillway serve: stop forced: {stats.Pending} accepted messages were not stored yet; they are in the spill log " +
                  $"{spill.Directory} and are stored at the next start"
                : $"spillway serve: stop forced: {stats.Pending} accepted messages were not stored");
            return ExitCodes.Forced;
        }

        return ExitCodes.Drained;
    }
}
