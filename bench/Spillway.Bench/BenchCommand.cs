using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Spillway.Pipeline;
using Spillway.Sinks;

namespace Spillway.Bench;

/// <summary>
/// <c>spillway-bench</c>: the database's ceiling and the service's end-to-end throughput, measured in one invocation on
/// the same machine state, with the service's peak memory and a check that every message was stored exactly once.
/// </summary>
internal static class BenchCommand
{
    /// <summary>Exit codes of <c>spillway-bench</c>, documented in the README.</summary>
    public static class ExitCodes
    {
        public const int Exact = 0;
        public const int Failed = 1;
        public const int NotExact = 2;
    }

    internal enum BenchSink
    {
        Sqlite,
        Postgres,
    }

    public static RootCommand Create(Func<Stream> openInput)
    {
        var sink = new Option<BenchSink>("--sink")
        {
            Description = "The database to measure: sqlite (a file in --directory) or postgres (tables spillway_bench_* in --postgres)",
            DefaultValueFactory = _ => BenchSink.Sqlite,
        };
        var postgres = new Option<string>("--postgres")
        {
            Description = "PostgreSQL connection string, for --sink postgres", HelpName = "CONNECTION-STRING",
        };
        var count = new Option<long>("--count", "-n")
        {
            Description = "Messages per run", HelpName = "N", DefaultValueFactory = _ => 1_000_000,
        };
        var warmup = new Option<long>("--warmup")
        {
            Description = "Messages each half stores, untimed, before the timed N, so neither times the JIT compiler at work",
            HelpName = "W", DefaultValueFactory = _ => 100_000,
        };
        var size = new Option<int>("--size")
        {
            Description = $"Bytes in each message, framing excluded (at least {MessageGenerator.MinimumSize})",
            HelpName = "BYTES", DefaultValueFactory = _ => 100,
        };
        var connections = new Option<int>("--connections", "-c")
        {
            Description = "TCP connections the end-to-end run sends over", HelpName = "C", DefaultValueFactory = _ => 4,
        };
        var runs = new Option<int>("--runs")
        {
            Description = "Runs; the table shows the median, least and greatest", HelpName = "K", DefaultValueFactory = _ => 1,
        };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Messages per transaction, in both halves", HelpName = "COUNT",
            DefaultValueFactory = _ => BatchWriterOptions.DefaultBatchSize,
        };
        var writers = new Option<int?>("--writers")
        {
            Description = "serve's --writers in the end-to-end run (the ceiling is one writer) [default: serve's]", HelpName = "W",
        };
        var spill = new Option<BenchSpill>("--spill")
        {
            Description = "End-to-end runs with serve's spill log off, on, or one of each to compare them",
            HelpName = "both|off|on", DefaultValueFactory = _ => BenchSpill.Both,
        };
        var serveArgs = new Option<string[]>("--serve-arg")
        {
            Description = "An argument for serve in the end-to-end runs, after the benchmark's own (repeat it: --serve-arg=--indexes " +
                "--serve-arg=time,host), to measure a setting's cost against a run without it",
            HelpName = "ARG",
        };
        var versusArgs = new Option<string[]>("--versus-arg")
        {
            Description = "An argument for serve in one more end-to-end half of each run, measured beside the half without it " +
                "(repeat it: --versus-arg=--retention --versus-arg=30d); the table gives both and their ratio. Takes --spill off or on",
            HelpName = "ARG",
        };
        var expiredRows = new Option<long>("--expired-rows")
        {
            Description = "Rows stored before each end-to-end run as received in 2000, for serve to delete while it is measured " +
                "(with --versus-arg=--retention --versus-arg=30d): the cost of a retention at work",
            HelpName = "COUNT",
        };
        var tls = new Option<bool>("--tls")
        {
            Description = "One more end-to-end half of each run over TLS (--listen-tls, a self-signed EC P-256 certificate made for the run), " +
                "beside the same over plain TCP: the table gives both and their ratio",
        };
        var serve = new Option<FileInfo>("--serve")
        {
            Description = "The spillway executable (or its spillway.dll) whose serve is measured [default: the one beside spillway-bench]",
            HelpName = "PATH",
        };
        var versusServe = new Option<FileInfo>("--versus-serve")
        {
            Description = "Another spillway executable (or spillway.dll), measured in one more end-to-end half of each run beside --serve, " +
                "with the same arguments: a build of main against a change, in one run. Takes --spill off or on",
            HelpName = "PATH",
        };
        serve.AcceptExistingOnly();
        versusServe.AcceptExistingOnly();
        var topology = new Option<bool>("--topology")
        {
            Description = "Instead of the ceiling and serve alone, measure the scale-out on NATS JetStream (docs/scale-out.md): one edge and " +
                "one writer node against one edge and two writer nodes, in each run, through the cluster of --nats into --postgres",
        };
        var nats = new Option<string>("--nats")
        {
            Description = "The NATS servers of --topology, comma-separated (nats://127.0.0.1:4222,...)", HelpName = "URLS",
        };
        var directory = new Option<DirectoryInfo>("--directory")
        {
            Description = "Where the SQLite files and the spill log go [default: a new directory under the current one, deleted afterwards]",
            HelpName = "DIR",
        };

        var command = new RootCommand(
            "Measure the database's ceiling and serve's end-to-end throughput in one run, on fresh databases; print a table and a JSON line")
        {
            sink, postgres, count, warmup, size, connections, runs, batchSize, writers, spill, serveArgs, versusArgs, expiredRows, tls, serve,
            versusServe, topology, nats, directory,
        };
        command.Validators.Add(result =>
        {
            if (!result.GetValue(topology))
            {
                return;
            }

            if (string.IsNullOrWhiteSpace(result.GetValue(nats)) || result.GetValue(sink) != BenchSink.Postgres)
            {
                result.AddError("--topology measures nodes on NATS JetStream into PostgreSQL: give --nats URLS, --sink postgres and --postgres");
            }

            if (result.GetValue(tls) || result.GetResult(versusServe) is not null || result.GetValue(versusArgs) is { Length: > 0 })
            {
                result.AddError("--topology compares its two topologies alone: leave out --tls, --versus-serve and --versus-arg");
            }
        });
        command.Validators.Add(result =>
        {
            if (result.GetValue(sink) == BenchSink.Postgres && string.IsNullOrWhiteSpace(result.GetValue(postgres)))
            {
                result.AddError("--sink postgres needs --postgres CONNECTION-STRING");
            }
        });
        Positive(count, "--count", 1, MostMessages);
        Positive(warmup, "--warmup", 0, MostMessages);
        command.Validators.Add(result =>
        {
            if (result.GetValue(count) + result.GetValue(warmup) > MostMessages)
            {
                result.AddError($"--count and --warmup together must not exceed {MostMessages}");
            }
        });
        Positive(size, "--size", MessageGenerator.MinimumSize, TcpSourceLimit);
        Positive(connections, "--connections", 1, 10_000);
        Positive(runs, "--runs", 1, 1_000);
        Positive(batchSize, "--batch-size", 1, 1_000_000);
        Positive(expiredRows, "--expired-rows", 0, MostMessages);
        command.Validators.Add(result =>
        {
            if (result.GetValue(versusArgs) is { Length: > 0 } && result.GetValue(spill) == BenchSpill.Both)
            {
                result.AddError("--versus-arg compares one setting at a time: give --spill off or --spill on with it");
            }

            if (result.GetResult(versusServe) is not null && result.GetValue(spill) == BenchSpill.Both)
            {
                result.AddError("--versus-serve compares one build at a time: give --spill off or --spill on with it");
            }

            if (result.GetResult(serve) is null && !File.Exists(ChildProcess.ServeBesideThis()))
            {
                result.AddError($"no spillway beside spillway-bench in {AppContext.BaseDirectory}: build bench/Spillway.Bench, or give --serve PATH");
            }
        });
        writers.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError("--writers must be at least 1");
            }
        });

        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var settings = new BenchSettings(parseResult.GetValue(count), parseResult.GetValue(warmup), parseResult.GetValue(size), parseResult.GetValue(connections),
                parseResult.GetValue(runs), parseResult.GetValue(batchSize), parseResult.GetValue(writers), parseResult.GetValue(spill))
            {
                ServeArguments = parseResult.GetValue(serveArgs) ?? [],
                ExpiredRows = parseResult.GetValue(expiredRows),
                VersusArguments = parseResult.GetValue(versusArgs) ?? [],
                Tls = parseResult.GetValue(tls),
                Serve = parseResult.GetValue(serve)?.FullName ?? ChildProcess.ServeBesideThis(),
                VersusServe = parseResult.GetValue(versusServe)?.FullName,
            };
            return parseResult.GetValue(topology)
                ? await RunTopologyAsync(settings, parseResult.GetValue(postgres)!, parseResult.GetValue(nats)!, parseResult.GetValue(directory),
                    parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, cancellationToken)
                : await RunAsync(settings, parseResult.GetValue(sink), parseResult.GetValue(postgres), parseResult.GetValue(directory),
                    parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, cancellationToken);
        });
        command.Subcommands.Add(SendCommand.Create(openInput));
        return command;
    }

    // Sequence numbers are checked off in a bit array.
    private const long MostMessages = int.MaxValue;

    // The largest message the TCP source takes whole by default.
    private const int TcpSourceLimit = Tcp.TcpSourceOptions.DefaultMaxMessageBytes;

    private static void Positive<T>(Option<T> option, string name, long min, long max)
        where T : struct, IConvertible => option.Validators.Add(result =>
        {
            var value = Convert.ToInt64(result.GetValueOrDefault<T>(), CultureInfo.InvariantCulture);
            if (value < min || value > max)
            {
                result.AddError($"{name} must be between {min} and {max}");
            }
        });

    private static Task<int> RunTopologyAsync(
        BenchSettings settings, string postgres, string nats, DirectoryInfo? directory, TextWriter output, TextWriter error,
        CancellationToken cancellationToken) => InWorkDirectoryAsync(directory, error, async (workDirectory, stop) =>
        {
            await using var target = new PostgresBenchTarget(postgres);
            var runner = new TopologyRunner(settings, target, nats, Path.Combine(workDirectory, "spill"), error);
            var runs = new List<List<TopologyHalf>>();
            for (var run = 1; run <= settings.Runs; run++)
            {
                runs.Add(await runner.RunAsync(run, stop));
            }

            await output.WriteAsync(TopologyRunner.Report(settings, runs));
            var halves = runs.SelectMany(r => r).ToList();
            if (halves.Any(h => h.Lost + h.Duplicated + h.Rejected > 0))
            {
                await error.WriteLineAsync(
                    $"spillway-bench: {halves.Sum(h => h.Lost)} messages lost, {halves.Sum(h => h.Duplicated)} stored twice, " +
                    $"{halves.Sum(h => h.Rejected)} rejected: every message should be stored once");
                return ExitCodes.NotExact;
            }

            return ExitCodes.Exact;
        }, cancellationToken);

    private static Task<int> RunAsync(
        BenchSettings settings, BenchSink sink, string? postgres, DirectoryInfo? directory, TextWriter output, TextWriter error,
        CancellationToken cancellationToken) => InWorkDirectoryAsync(directory, error, async (workDirectory, stop) =>
        {
            using var loggers = LoggerFactory.Create(logging => logging
                .SetMinimumLevel(LogLevel.Warning)
                .AddSimpleConsole(o => o.SingleLine = true)
                .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
            await using BenchTarget target = sink == BenchSink.Postgres
                ? new PostgresBenchTarget(postgres!)
                : new SqliteBenchTarget(workDirectory);
            using var certificate = settings.Tls ? BenchCertificate.Create(Path.Combine(workDirectory, "tls")) : null;
            var runner = new BenchRunner(settings, target, Path.Combine(workDirectory, "spill"), loggers, error, certificate);
            var results = new List<RunResult>();
            for (var run = 1; run <= settings.Runs; run++)
            {
                results.Add(await runner.RunAsync(run, stop));
            }

            var report = BenchReport.Of(target.Name, await target.VersionAsync(stop), settings, results);
            await output.WriteAsync(report.ToTable());
            await output.WriteLineAsync(report.ToJson());
            if (report.CpuBusyBefore is { Max: > BenchReport.QuietEnough } busy)
            {
                await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"spillway-bench: something else kept the CPUs up to {busy.Max:P0} busy before a run: the figures may be low"));
            }

            if (!report.Exact)
            {
                await error.WriteLineAsync(
                    $"spillway-bench: {report.Lost} messages lost, {report.Duplicated} stored twice, {report.Rejected} rejected: every message should be stored once");
                return ExitCodes.NotExact;
            }

            return ExitCodes.Exact;
        }, cancellationToken);

    /// <summary>
    /// Runs a benchmark in its work directory (<paramref name="directory"/>, or a new one under the current directory, deleted
    /// after), stopping it cleanly on SIGINT or SIGTERM (the child serves are killed and the files deleted), and turning what
    /// stops it into a line on stderr and exit code 1.
    /// </summary>
    private static async Task<int> InWorkDirectoryAsync(
        DirectoryInfo? directory, TextWriter error, Func<string, CancellationToken, Task<int>> run, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        var ownDirectory = directory is null;
        var workDirectory = directory?.FullName ?? Path.Combine(Directory.GetCurrentDirectory(), $"spillway-bench-{Guid.NewGuid():N}"[..23]);
        try
        {
            Directory.CreateDirectory(workDirectory);
            return await run(workDirectory, stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await error.WriteLineAsync("spillway-bench: stopped");
            return ExitCodes.Failed;
        }
        catch (Exception ex) when (ex is SinkUnavailableException or InvalidOperationException or TimeoutException or IOException or ArgumentException
                                   or Npgsql.NpgsqlException or Microsoft.Data.Sqlite.SqliteException)
        {
            var what = ex is Npgsql.NpgsqlException and not Npgsql.PostgresException ? "cannot reach PostgreSQL: " : "";
            await error.WriteLineAsync($"spillway-bench: {what}{ex.Message}");
            return ExitCodes.Failed;
        }
        finally
        {
            if (ownDirectory && Directory.Exists(workDirectory))
            {
                Directory.Delete(workDirectory, recursive: true);
            }
        }

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
