using System.Collections;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Spillway.Cli.Commands;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Tcp;

namespace Spillway.Cli.Bench;

/// <summary>What <c>spillway bench</c> measures with.</summary>
internal sealed record BenchSettings(long Messages, int Size, int Connections, int Runs, int BatchSize, int? Writers);

/// <summary>One run's figures: the ceiling, the end-to-end run, and what the database held after it.</summary>
internal sealed record RunResult(
    int Run,
    TimeSpan CeilingElapsed,
    TimeSpan EndToEndElapsed,
    long Messages,
    long? PeakResidentBytes,
    long Lost,
    long Duplicated,
    long Rejected,
    string ServeSummary)
{
    public double CeilingRowsPerSecond => Messages / CeilingElapsed.TotalSeconds;

    public double EndToEndMessagesPerSecond => Messages / EndToEndElapsed.TotalSeconds;

    public double Ratio => EndToEndMessagesPerSecond / CeilingRowsPerSecond;
}

/// <summary>
/// One benchmark run, in two halves on the same database: the <em>ceiling</em>, N prepared messages written straight
/// through the sink in batches of the service's size (no network, no buffer), and the <em>end-to-end</em> run, a
/// <c>spillway serve</c> child on a fresh database fed N messages by <see cref="TcpSender"/> and timed from the first
/// byte sent until all N rows are visible in the database.
/// </summary>
internal sealed class BenchRunner(BenchSettings settings, BenchTarget target, ILoggerFactory loggers, TextWriter progress)
{
    /// <summary>How often the end-to-end half looks at the database: a few percent of a second-long run at most.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>The end-to-end half gives up when no new row has appeared for this long.</summary>
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(5);

    public async Task<RunResult> RunAsync(int run, CancellationToken cancellationToken)
    {
        var label = $"run {run}/{settings.Runs}";
        var ceiling = await MeasureCeilingAsync(cancellationToken);
        await progress.WriteLineAsync(Invariant($"{label}: ceiling      {settings.Messages} rows in {ceiling.TotalSeconds:F2} s: {settings.Messages / ceiling.TotalSeconds,10:N0} rows/s"));

        var (elapsed, peak, summary) = await MeasureEndToEndAsync(label, cancellationToken);
        await progress.WriteLineAsync(Invariant($"{label}: end-to-end   {settings.Messages} msgs in {elapsed.TotalSeconds:F2} s: {settings.Messages / elapsed.TotalSeconds,10:N0} msg/s"));

        var (lost, duplicated) = await CheckStoredAsync(cancellationToken);
        var rejected = await target.CountRejectsAsync(cancellationToken);
        var result = new RunResult(run, ceiling, elapsed, settings.Messages, peak, lost, duplicated, rejected, summary);
        await progress.WriteLineAsync(Invariant(
            $"{label}: ratio {result.Ratio:F2}, peak RSS {Mib(peak)}, lost {lost}, duplicated {duplicated}, rejected {rejected}; serve: {summary}"));
        await target.ResetAsync(cancellationToken);
        return result;
    }

    internal static string Mib(long? bytes) => bytes is { } b ? Invariant($"{b / (1024.0 * 1024.0):F0} MiB") : "n/a";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Writes N prepared messages through a sink of the service's kind; the time of the writes alone.</summary>
    private async Task<TimeSpan> MeasureCeilingAsync(CancellationToken cancellationToken)
    {
        await target.ResetAsync(cancellationToken);
        var batches = PrepareBatches();
        await using var sink = target.CreateSink(loggers);
        await sink.OpenAsync(cancellationToken);

        var started = TimeProvider.System.GetTimestamp();
        foreach (var batch in batches)
        {
            batch.Id = Guid.CreateVersion7();
            var refused = await sink.WriteAsync(batch, cancellationToken);
            if (refused != 0)
            {
                throw new InvalidOperationException($"the database refused {refused} of the prepared messages");
            }
        }

        var elapsed = TimeProvider.System.GetElapsedTime(started);
        var stored = await target.CountAsync(cancellationToken);
        if (stored != settings.Messages)
        {
            throw new InvalidOperationException($"the ceiling wrote {settings.Messages} messages but the database holds {stored}");
        }

        await target.ResetAsync(cancellationToken);
        return elapsed;
    }

    /// <summary>
    /// The messages the service would make of what <see cref="TcpSender"/> sends, decoded by the same decoder, cut
    /// into batches of the service's size: made before the clock starts, so the ceiling times the writes alone.
    /// </summary>
    private List<Batch> PrepareBatches()
    {
        var time = TimeProvider.System;
        var decoder = new FrameDecoder(new IngestStats(), new BadInputLog(loggers.CreateLogger<BadInputLog>(), time), time);
        var generator = new MessageGenerator(settings.Size);
        var batches = new List<Batch>();
        var peer = new IPEndPoint(IPAddress.Loopback, 40000).ToString();
        for (long seq = 0; seq < settings.Messages; seq++)
        {
            if (seq % settings.BatchSize == 0)
            {
                batches.Add(new Batch(settings.BatchSize));
            }

            var item = decoder.Decode(generator.Next(seq), Transport.Tcp, peer, TcpSourceOptions.DefaultMaxMessageBytes)
                ?? throw new InvalidOperationException("a generated message decoded as blank");
            batches[^1].Add(item);
        }

        return batches;
    }

    private async Task<(TimeSpan Elapsed, long? PeakResidentBytes, string Summary)> MeasureEndToEndAsync(string label, CancellationToken cancellationToken)
    {
        await target.ResetAsync(cancellationToken);

        // The prepared batches of the ceiling are garbage now: collect them here, not in the middle of the timed half.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);

        List<string> args = ["serve", "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "none",
            "--batch-size", settings.BatchSize.ToString(CultureInfo.InvariantCulture), .. target.ServeArguments];
        if (settings.Writers is { } writers)
        {
            args.AddRange(["--writers", writers.ToString(CultureInfo.InvariantCulture)]);
        }

        await using var serve = ChildProcess.StartSelf(args);
        var endpoint = await serve.ListeningAsync("tcp", StartTimeout, cancellationToken);
        await progress.WriteLineAsync(Invariant($"{label}: serve (pid {serve.Id}) listening on tcp {endpoint}; sending {settings.Messages} messages over {settings.Connections} connection(s)"));

        using var sendCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var send = new TcpSender(endpoint, SendFraming.Lf)
            .SendGeneratedAsync(settings.Messages, settings.Size, settings.Connections, sendCancellation.Token);
        long visibleAt;
        try
        {
            visibleAt = await WaitForRowsAsync(serve, send, cancellationToken);
        }
        catch
        {
            await sendCancellation.CancelAsync();
            throw;
        }

        var report = await send;
        if (report.Errors.Count > 0)
        {
            throw new InvalidOperationException("sending failed: " + string.Join("; ", report.Errors));
        }

        var peak = serve.PeakResidentBytes();
        serve.Signal(ChildProcess.Sigterm);
        var exitCode = await serve.WaitForExitAsync(DrainTimeout, cancellationToken);
        var summary = serve.OutputLines.LastOrDefault(l => l.StartsWith("accepted=", StringComparison.Ordinal)) ?? "(no summary)";
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"spillway serve exited with code {exitCode} ({summary}):\n{serve.ErrorTail}");
        }

        return (TimeProvider.System.GetElapsedTime(report.StartedAt, visibleAt), peak, summary);
    }

    /// <summary>Polls the database until it holds every message; the timestamp at which it first did.</summary>
    private async Task<long> WaitForRowsAsync(ChildProcess serve, Task<SendReport> send, CancellationToken cancellationToken)
    {
        var lastProgress = TimeProvider.System.GetTimestamp();
        var lastHighest = 0L;
        while (true)
        {
            var highest = await target.HighestIdAsync(cancellationToken);

            // Ids only grow and gaps only add to them, so the highest id reaches N no later than the count does.
            if (highest >= settings.Messages && await target.CountAsync(cancellationToken) >= settings.Messages)
            {
                return TimeProvider.System.GetTimestamp();
            }

            if (highest != lastHighest)
            {
                lastHighest = highest;
                lastProgress = TimeProvider.System.GetTimestamp();
            }
            else if (TimeProvider.System.GetElapsedTime(lastProgress) > StallTimeout)
            {
                throw new TimeoutException(Invariant($"no new row for {StallTimeout.TotalSeconds:F0} s at {highest} of {settings.Messages}; serve's log:\n{serve.ErrorTail}"));
            }

            if (serve.HasExited)
            {
                throw new InvalidOperationException($"spillway serve exited during the run:\n{serve.ErrorTail}");
            }

            if (send.IsFaulted)
            {
                await send; // throws what failed
            }

            await Task.Delay(PollInterval, TimeProvider.System, cancellationToken);
        }
    }

    /// <summary>Reads every stored message back: N minus the distinct sequence numbers is lost, the rest duplicated.</summary>
    private async Task<(long Lost, long Duplicated)> CheckStoredAsync(CancellationToken cancellationToken)
    {
        var seen = new BitArray(checked((int)settings.Messages));
        long distinct = 0, duplicated = 0;
        await foreach (var text in target.ReadMessagesAsync(cancellationToken))
        {
            if (!MessageGenerator.TryParse(text, out var seq) || seq >= settings.Messages)
            {
                throw new InvalidOperationException($"the database holds a message that was not sent: {text}");
            }

            if (seen[(int)seq])
            {
                duplicated++;
            }
            else
            {
                seen[(int)seq] = true;
                distinct++;
            }
        }

        return (settings.Messages - distinct, duplicated);
    }
}
