using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Spillway.Cli.Hosting;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Sinks;
using Spillway.Spill;

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

    public static Command Create()
    {
        var config = new Option<FileInfo>("--config")
        {
            Description = "A JSON file of settings (keys as the flags in PascalCase, e.g. MaxBufferMessages); flags win over it",
            HelpName = "FILE",
        };
        var listenTcp = Flag<string[]>(ServeKeys.ListenTcp, "HOST:PORT",
            "Listen for TCP syslog (LF or octet-counted) here; repeatable; port 0 picks a free port; none turns TCP off [default: 127.0.0.1:5514]");
        var listenUdp = Flag<string[]>(ServeKeys.ListenUdp, "HOST:PORT",
            "Listen for UDP syslog (one datagram, one message) here; repeatable; none turns UDP off [default: 127.0.0.1:5514]");
        var listenHttp = Flag<string[]>(ServeKeys.ListenHttp, "HOST:PORT",
            "Listen for POST /ingest (text/plain, application/x-ndjson, application/json) here; repeatable; none turns HTTP off " +
            "[default: 127.0.0.1:5515]");
        var httpWhenFull = Flag<string>(ServeKeys.HttpWhenFull, "drop|wait",
            "When the buffer is full, HTTP answers 503 with Retry-After (taking nothing) or holds the request [default: drop]");
        var httpMaxBodyBytes = Flag<string>(ServeKeys.HttpMaxBodyBytes, "SIZE", "The largest request body; larger ones get 413 [default: 4MiB]");
        var tcpWhenFull = Flag<string>(ServeKeys.TcpWhenFull, "wait|drop",
            "When the buffer is full, TCP waits (pushing back on senders) or drops and counts [default: wait]");
        var udpWhenFull = Flag<string>(ServeKeys.UdpWhenFull, "drop|wait",
            "When the buffer is full, UDP drops and counts, or stops reading (the kernel then drops, uncounted) [default: drop]");
        var udpReceiveBuffer = Flag<string>(ServeKeys.UdpReceiveBuffer, "SIZE",
            "The UDP socket's receive buffer (SO_RCVBUF, capped by net.core.rmem_max) [default: 4MiB]");
        var sqlite = Flag<string>(ServeKeys.Sqlite, "PATH", "The SQLite database file, created if missing [default: spillway.db]");
        var postgres = Flag<string>(ServeKeys.Postgres, "CONNECTION",
            "Write to PostgreSQL instead of SQLite: an Npgsql connection string, e.g. \"Host=db;Username=spillway;Database=logs\"");
        var postgresTablePrefix = Flag<string>(ServeKeys.PostgresTablePrefix, "PREFIX",
            "Put before the PostgreSQL table names: PREFIXmessages, PREFIXrejects, PREFIXbatches [default: none]");
        var writers = Flag<string>(ServeKeys.Writers, "N",
            $"Writers in parallel, each with its own connection; PostgreSQL only [default: {ServeSettings.DefaultPostgresWriters} with PostgreSQL, 1 with SQLite]");
        var synchronous = Flag<string>(ServeKeys.SqliteSynchronous, "MODE",
            "SQLite PRAGMA synchronous: off, normal or full; normal survives any process crash in WAL mode [default: normal]");
        var maxMessages = Flag<string>(ServeKeys.MaxBufferMessages, "COUNT",
            "Messages kept in memory: the spill log's copy for writers that keep up; with --spill-dir none, most accepted and "
            + $"not yet stored (beyond it TCP senders are pushed back) [default: {IngestBufferOptions.DefaultMaxMessages}]");
        var maxBytes = Flag<string>(ServeKeys.MaxBufferBytes, "SIZE",
            "Bytes kept in memory, e.g. 64MiB: the spill log's copy, and apart from it its records waiting for the disk; "
            + "with --spill-dir none, most accepted and not yet stored [default: 64MiB]");
        var maxMessageBytes = Flag<string>(ServeKeys.MaxMessageBytes, "SIZE",
            "Longest message; longer frames are cut and kept in the rejects table [default: 64KiB]");
        var batchSize = Flag<string>(ServeKeys.BatchSize, "COUNT",
            $"Most messages written in one transaction [default: {BatchWriterOptions.DefaultBatchSize}]");
        var batchLinger = Flag<string>(ServeKeys.BatchLinger, "DURATION",
            "How long a batch waits to fill before it is written anyway, e.g. 100ms [default: 100ms]");

        var stopReadTimeout = Flag<string>(ServeKeys.StopReadTimeout, "DURATION",
            "On stop, how long connections whose senders are still sending are read before they are cut off [default: 5s]");

        var unhealthyAfter = Flag<string>(ServeKeys.UnhealthyAfter, "DURATION",
            "GET /health answers 503 once a writer has failed to store for this long, e.g. 30s [default: 30s]");
        var logFormat = Flag<string>(ServeKeys.LogFormat, "text|json",
            "The log on stderr: a line per event, or a JSON object per line [default: text]");

        var spillDir = Flag<string>(ServeKeys.SpillDir, "PATH|none",
            "The spill log: every accepted message is on disk here until stored, so it survives kill -9 and a database outage " +
            "fills the disk instead of pushing back; none keeps them in memory only [default: the SQLite file's path + .spill, " +
            "or spillway.spill with PostgreSQL]");
        var spillMaxBytes = Flag<string>(ServeKeys.SpillMaxBytes, "SIZE",
            "Most disk the spill log may use; beyond it TCP is pushed back and UDP dropped [default: 1GiB]");
        var spillFsync = Flag<string>(ServeKeys.SpillFsync, "batch|interval|never",
            "When the spill log is forced to disk: each group of appends before it is acknowledged (survives power loss), " +
            "every --spill-fsync-interval, or never (survives a crash of the process only) [default: batch]");
        var spillFsyncInterval = Flag<string>(ServeKeys.SpillFsyncInterval, "DURATION", "The fsync period of --spill-fsync interval [default: 1s]");

        var command = new Command("serve", "Listen for messages and store them in the database; SIGINT or SIGTERM drains and stops")
        {
            config, postgres, postgresTablePrefix, writers, listenTcp, listenUdp, listenHttp, httpWhenFull, httpMaxBodyBytes, tcpWhenFull, udpWhenFull, udpReceiveBuffer, sqlite, synchronous, maxMessages, maxBytes, maxMessageBytes, batchSize, batchLinger, stopReadTimeout, unhealthyAfter, logFormat,
            spillDir, spillMaxBytes, spillFsync, spillFsyncInterval,
        };

        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            var flags = new Dictionary<string, IReadOnlyList<string>>();
            foreach (var (option, key) in new[] { (listenTcp, ServeKeys.ListenTcp), (listenUdp, ServeKeys.ListenUdp), (listenHttp, ServeKeys.ListenHttp) })
            {
                if (parseResult.GetValue(option) is { Length: > 0 } endpoints)
                {
                    flags[key.ConfigKey] = endpoints;
                }
            }

            foreach (var (option, key) in new[]
            {
                (postgres, ServeKeys.Postgres), (postgresTablePrefix, ServeKeys.PostgresTablePrefix), (writers, ServeKeys.Writers),
                (sqlite, ServeKeys.Sqlite), (synchronous, ServeKeys.SqliteSynchronous), (maxMessages, ServeKeys.MaxBufferMessages),
                (maxBytes, ServeKeys.MaxBufferBytes), (maxMessageBytes, ServeKeys.MaxMessageBytes), (batchSize, ServeKeys.BatchSize),
                (batchLinger, ServeKeys.BatchLinger), (stopReadTimeout, ServeKeys.StopReadTimeout), (tcpWhenFull, ServeKeys.TcpWhenFull),
                (udpWhenFull, ServeKeys.UdpWhenFull), (udpReceiveBuffer, ServeKeys.UdpReceiveBuffer), (httpWhenFull, ServeKeys.HttpWhenFull),
                (httpMaxBodyBytes, ServeKeys.HttpMaxBodyBytes), (unhealthyAfter, ServeKeys.UnhealthyAfter), (logFormat, ServeKeys.LogFormat),
                (spillDir, ServeKeys.SpillDir), (spillMaxBytes, ServeKeys.SpillMaxBytes), (spillFsync, ServeKeys.SpillFsync),
                (spillFsyncInterval, ServeKeys.SpillFsyncInterval),
            })
            {
                if (parseResult.GetValue(option) is { } value)
                {
                    flags[key.ConfigKey] = [value];
                }
            }

            return await RunAsync(parseResult.GetValue(config), flags, output, error, cancellationToken);
        });
        return command;
    }

    private static Option<T> Flag<T>(ServeKey key, string helpName, string description) =>
        new(key.Flag) { Description = description, HelpName = helpName };

    private static async Task<int> RunAsync(
        FileInfo? configFile, Dictionary<string, IReadOnlyList<string>> flags, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        IConfiguration configuration;
        ServeSettings settings;
        try
        {
            configuration = BuildConfiguration(configFile);
            settings = ServeSettings.Load(configuration, flags);
        }
        catch (Exception ex) when (ex is SettingsException or InvalidDataException or FileNotFoundException or FormatException)
        {
            await error.WriteLineAsync($"spillway serve: {ex.Message}");
            return ExitCodes.StartFailed;
        }

        IHost host;
        try
        {
            // Opens the spill log already (recovering it): the metrics are made over it as the host is built.
            host = ServeHost.Build(settings, configuration);
        }
        catch (SpillUnavailableException ex)
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

        foreach (var (transport, endpoint) in service.Listening)
        {
            await output.WriteLineAsync($"listening {transport.ToName()} {endpoint}");
        }

        await output.FlushAsync(cancellationToken);
        await host.WaitForShutdownAsync(CancellationToken.None);

        await output.WriteLineAsync(stats.Summary());
        if (host.Services.GetService<SpillBuffer>() is { } spillLog)
        {
            await output.WriteLineAsync(spillLog.Summary());
        }

        await output.FlushAsync(CancellationToken.None);
        if (shutdown.Fatal is { } fatal)
        {
            await error.WriteLineAsync($"spillway serve: fatal: {fatal.Message}; {stats.Pending} accepted messages were not stored");
            return ExitCodes.Fatal;
        }

        if (shutdown.Forced && stats.Pending > 0)
        {
            await error.WriteLineAsync(settings.Spill is { } spill
                ? $"spillway serve: stop forced: {stats.Pending} accepted messages were not stored yet; they are in the spill log " +
                  $"{spill.Directory} and are stored at the next start"
                : $"spillway serve: stop forced: {stats.Pending} accepted messages were not stored");
            return ExitCodes.Forced;
        }

        return ExitCodes.Drained;
    }

    private static IConfigurationRoot BuildConfiguration(FileInfo? configFile)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            if (!configFile.Exists)
            {
                throw new FileNotFoundException($"config file '{configFile.FullName}' does not exist");
            }

            builder.AddJsonFile(configFile.FullName, optional: false, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables("SPILLWAY__");
        return builder.Build();
    }
}
