using System.Collections;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Sinks;
using Spillway.Tcp;

namespace Spillway.Bench;

/// <summary>
/// What <c>spillway-bench</c> measures with: N <see cref="Messages"/> of <see cref="Size"/> bytes per half, after a
/// <see cref="Warmup"/> each half stores untimed (the service is measured running, not starting).
/// </summary>
internal sealed record BenchSettings(long Messages, long Warmup, int Size, int Connections, int Runs, int BatchSize, int? Writers,
    BenchSpill Spill = BenchSpill.Both)
{
    /// <summary>Passed to every end-to-end <c>serve</c> after the benchmark's own, such as <c>--indexes</c> or <c>--retention</c>.</summary>
    public IReadOnlyList<string> ServeArguments { get; init; } = [];

    /// <summary>
    /// Passed to serve in one more end-to-end half of each run, beside the half without them: a setting's cost measured
    /// on and off in one run.
    /// </summary>
    public IReadOnlyList<string> VersusArguments { get; init; } = [];

    /// <summary>The <c>spillway</c> executable (or <c>spillway.dll</c>) whose serve is measured.</summary>
    public required string Serve { get; init; }

    /// <summary>
    /// Another <c>spillway</c> build, measured in one more end-to-end half of each run beside <see cref="Serve"/> (with
    /// <see cref="VersusArguments"/> too, when given): two builds compared in one run. Null when not measured.
    /// </summary>
    public string? VersusServe { get; init; }

    /// <summary>Whether each run has the half with <see cref="VersusArguments"/> or <see cref="VersusServe"/>.</summary>
    public bool HasVersus => VersusArguments.Count > 0 || VersusServe is not null;

    /// <summary>What the versus half differs by, for the table: its arguments, its build, or both.</summary>
    public string VersusLabel => DescribeVersus(VersusArguments, VersusServe);

    /// <summary>The versus half's arguments and build, as the table and the progress lines name it.</summary>
    public static string DescribeVersus(IEnumerable<string> arguments, string? serve) =>
        string.Join(' ', serve is null ? arguments : arguments.Prepend($"build {serve}"));

    /// <summary>
    /// One more end-to-end half of each run over TLS (<c>--listen-tls</c>, RFC 5425), beside the same over plain TCP,
    /// with the spill log as the plain half it is compared with: on, unless only off is measured.
    /// </summary>
    public bool Tls { get; init; }

    /// <summary>Whether the TLS half, when there is one, runs with the spill log on.</summary>
    public bool TlsSpillOn => Spill != BenchSpill.Off;

    /// <summary>
    /// Rows stored before each end-to-end run as received on <see cref="BenchRunner.ExpiredAt"/>, long past any
    /// retention: with <c>--serve-arg=--retention</c>, serve deletes them while it is measured.
    /// </summary>
    public long ExpiredRows { get; init; }

    /// <summary>Every message a half stores: the warm-up, numbered after the N timed ones, then the N.</summary>
    public long Total => Warmup + Messages;
}

/// <summary>Which end-to-end runs <c>spillway-bench</c> makes: serve with the spill log off, on, or one of each.</summary>
internal enum BenchSpill
{
    /// <summary>One with the spill log off and one with it on, so the report compares them.</summary>
    Both,

    /// <summary>Only with the spill log off (<c>--spill-dir none</c>).</summary>
    Off,

    /// <summary>Only with the spill log on (serve's default).</summary>
    On,
}

/// <summary>One end-to-end run's figures.</summary>
internal sealed record EndToEndResult(TimeSpan Elapsed, long? PeakResidentBytes, string ServeSummary);

/// <summary>
/// One run's figures: the ceiling, the end-to-end runs (spill log off, on, or both), and what the database held after
/// them (summed over both).
/// </summary>
internal sealed record RunResult(
    int Run,
    TimeSpan CeilingElapsed,
    EndToEndResult? Memory,
    EndToEndResult? Spill,
    long Messages,
    long Lost,
    long Duplicated,
    long Rejected,
    double? CpuBusyBefore)
{
    public double CeilingRowsPerSecond => Messages / CeilingElapsed.TotalSeconds;

    /// <summary>End to end with the spill log off, or null when not measured.</summary>
    public double? EndToEndMessagesPerSecond => Memory is { } m ? Messages / m.Elapsed.TotalSeconds : null;

    /// <summary>End to end with the spill log on, or null when not measured.</summary>
    public double? SpillMessagesPerSecond => Spill is { } s ? Messages / s.Elapsed.TotalSeconds : null;

    /// <summary>End to end (spill log off, or on when only that was measured) over the ceiling.</summary>
    public double Ratio => (EndToEndMessagesPerSecond ?? SpillMessagesPerSecond!.Value) / CeilingRowsPerSecond;

    /// <summary>End to end with the spill log on over off, when both were measured.</summary>
    public double? SpillRatio => SpillMessagesPerSecond / EndToEndMessagesPerSecond;

    /// <summary>End to end with <see cref="BenchSettings.VersusArguments"/>, or null when not measured.</summary>
    public EndToEndResult? Versus { get; init; }

    /// <summary>End to end with the versus arguments, in msg/s.</summary>
    public double? VersusMessagesPerSecond => Versus is { } v ? Messages / v.Elapsed.TotalSeconds : null;

    /// <summary>End to end with the versus arguments over without them (the same spill setting).</summary>
    public double? VersusRatio => VersusMessagesPerSecond / (EndToEndMessagesPerSecond ?? SpillMessagesPerSecond);

    /// <summary>End to end over TLS (<see cref="BenchSettings.Tls"/>), or null when not measured.</summary>
    public EndToEndResult? Tls { get; init; }

    /// <summary>End to end over TLS, in msg/s.</summary>
    public double? TlsMessagesPerSecond => Tls is { } t ? Messages / t.Elapsed.TotalSeconds : null;

    /// <summary>
    /// End to end over TLS over the same over plain TCP, with the same spill setting: the spill log's half when it was
    /// measured, else the other.
    /// </summary>
    public double? TlsRatio => TlsMessagesPerSecond / (SpillMessagesPerSecond ?? EndToEndMessagesPerSecond);
}

/// <summary>What one end-to-end half of a run sends through.</summary>
internal enum HalfKind
{
    /// <summary>Plain TCP, serve with the benchmark's arguments.</summary>
    Plain,

    /// <summary>Plain TCP, serve with <see cref="BenchSettings.VersusArguments"/> too.</summary>
    Versus,

    /// <summary>TLS, to serve's <c>--listen-tls</c>.</summary>
    Tls,
}

/// <summary>
/// One benchmark run, in two halves on the same database: the <em>ceiling</em>, N prepared messages written straight
/// through the sink in batches of the service's size (no network, no buffer), and the <em>end-to-end</em> run, a
/// <c>spillway serve</c> child on a fresh database fed N messages by <see cref="TcpSender"/> and timed from the first
/// byte sent until all N rows are visible in the database. Each half first stores a warm-up, untimed, so that
/// neither times the compiler at work on code it has not run yet.
/// </summary>
/// <remarks>
/// The spill log, when on, lives in <paramref name="spillDirectory"/>, emptied before each run. <paramref name="tls"/>
/// is what the TLS half serves with, when <see cref="BenchSettings.Tls"/>.
/// </remarks>
internal sealed class BenchRunner(
    BenchSettings settings, BenchTarget target, string spillDirectory, ILoggerFactory loggers, TextWriter progress, BenchCertificate? tls = null)
{
    /// <summary>How often the end-to-end half looks at the database: a few percent of a second-long run at most.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>The end-to-end half gives up when no new row has appeared for this long.</summary>
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    internal static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    internal static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(5);

    public async Task<RunResult> RunAsync(int runNumber, CancellationToken cancellationToken)
    {
        var label = $"run {runNumber}/{settings.Runs}";
        var busy = await CpuBusy.SampleAsync(TimeSpan.FromSeconds(1), cancellationToken);
        if (busy is { } b)
        {
            await progress.WriteLineAsync(Invariant($"{label}: the CPUs were {b:P0} busy in the second before, with the benchmark idle"));
        }

        var ceiling = await MeasureCeilingAsync(cancellationToken);
        await progress.WriteLineAsync(Invariant($"{label}: ceiling      {settings.Messages} rows in {ceiling.TotalSeconds:F2} s: {settings.Messages / ceiling.TotalSeconds,10:N0} rows/s"));

        EndToEndResult? memory = null, spill = null, versus = null, overTls = null;
        long lost = 0, duplicated = 0, rejected = 0;
        bool[] spillHalves = settings.Spill switch { BenchSpill.Off => [false], BenchSpill.On => [true], _ => [false, true] };
        var halves = spillHalves.Select(on => (on, HalfKind.Plain));
        if (settings.HasVersus)
        {
            halves = halves.Append((settings.Spill == BenchSpill.On, HalfKind.Versus)); // --versus-arg takes one spill setting: checked
        }

        if (settings.Tls)
        {
            halves = halves.Append((settings.TlsSpillOn, HalfKind.Tls));
        }

        foreach (var (spillOn, kind) in halves.ToList())
        {
            var half = kind switch
            {
                HalfKind.Versus => $"with {settings.VersusLabel}",
                HalfKind.Tls => spillOn ? "TLS, spill on " : "TLS, spill off",
                _ => spillOn ? "spill on " : "spill off",
            };
            var result = await MeasureEndToEndAsync(label, spillOn, kind, cancellationToken);
            await progress.WriteLineAsync(Invariant(
                $"{label}: end-to-end, {half}: {settings.Messages} msgs in {result.Elapsed.TotalSeconds:F2} s: {settings.Messages / result.Elapsed.TotalSeconds,10:N0} msg/s, peak RSS {Mib(result.PeakResidentBytes)}"));
            var (halfLost, halfDuplicated) = await CheckStoredAsync(target, settings.Total, cancellationToken);
            lost += halfLost;
            duplicated += halfDuplicated;
            rejected += await target.CountRejectsAsync(cancellationToken);
            if (kind == HalfKind.Versus)
            {
                versus = result;
            }
            else if (kind == HalfKind.Tls)
            {
                overTls = result;
            }
            else if (spillOn)
            {
                spill = result;
            }
            else
            {
                memory = result;
            }
        }

        var run = new RunResult(runNumber, ceiling, memory, spill, settings.Messages, lost, duplicated, rejected, busy) { Versus = versus, Tls = overTls };
        var spillRatio = (run.SpillRatio is { } r ? Invariant($", spill on / off {r:F2}") : "")
            + (run.VersusRatio is { } v ? Invariant($", with / without {settings.VersusLabel} {v:F2}") : "")
            + (run.TlsRatio is { } t ? Invariant($", TLS / plain {t:F2}") : "");
        await progress.WriteLineAsync(Invariant(
            $"{label}: ratio {run.Ratio:F2}{spillRatio}, lost {lost}, duplicated {duplicated}, rejected {rejected}; serve: {(spill ?? memory)!.ServeSummary}"));
        await target.ResetAsync(cancellationToken);
        DeleteSpillDirectory();
        return run;
    }

    private void DeleteSpillDirectory()
    {
        if (Directory.Exists(spillDirectory))
        {
            Directory.Delete(spillDirectory, recursive: true);
        }
    }

    internal static string Mib(long? bytes) => bytes is { } b ? Invariant($"{b / (1024.0 * 1024.0):F0} MiB") : "n/a";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Writes N prepared messages through a sink of the service's kind; the time of the writes alone.</summary>
    private async Task<TimeSpan> MeasureCeilingAsync(CancellationToken cancellationToken)
    {
        await target.ResetAsync(cancellationToken);
        var warmup = PrepareBatches(settings.Messages, settings.Warmup);
        var batches = PrepareBatches(0, settings.Messages);
        TimeSpan elapsed;
        await using (var sink = target.CreateSink(loggers))
        {
            await sink.OpenAsync(cancellationToken);
            await WriteAsync(sink, warmup, cancellationToken);

            var started = TimeProvider.System.GetTimestamp();
            await WriteAsync(sink, batches, cancellationToken);
            elapsed = TimeProvider.System.GetElapsedTime(started);
        }

        // Closed first: the database is checked and emptied with nothing holding it open.
        var stored = await target.CountAsync(cancellationToken);
        if (stored != settings.Total)
        {
            throw new InvalidOperationException($"the ceiling wrote {settings.Total} messages but the database holds {stored}");
        }

        await target.ResetAsync(cancellationToken);
        return elapsed;
    }

    private static async Task WriteAsync(ISink sink, List<Batch> batches, CancellationToken cancellationToken)
    {
        foreach (var batch in batches)
        {
            batch.Id = Guid.CreateVersion7();
            var refused = await sink.WriteAsync(batch, cancellationToken);
            if (refused != 0)
            {
                throw new InvalidOperationException($"the database refused {refused} of the prepared messages");
            }
        }
    }

    /// <summary>
    /// The messages the service would make of what <see cref="TcpSender"/> sends, decoded by the same decoder, cut
    /// into batches of the service's size: made before the clock starts, so the ceiling times the writes alone.
    /// </summary>
    private List<Batch> PrepareBatches(long firstSequence, long count)
    {
        var time = TimeProvider.System;
        var decoder = new FrameDecoder(new IngestStats(), new BadInputLog(loggers.CreateLogger<BadInputLog>(), time), time);
        var generator = new MessageGenerator(settings.Size);
        var batches = new List<Batch>();
        var peer = new IPEndPoint(IPAddress.Loopback, 40000).ToString();
        for (long i = 0; i < count; i++)
        {
            if (i % settings.BatchSize == 0)
            {
                batches.Add(new Batch(settings.BatchSize));
            }

            var item = decoder.Decode(generator.Next(firstSequence + i), Transport.Tcp, peer, TcpSourceOptions.DefaultMaxMessageBytes)
                ?? throw new InvalidOperationException("a generated message decoded as blank");
            batches[^1].Add(item);
        }

        return batches;
    }

    /// <summary>When the rows of <see cref="BenchSettings.ExpiredRows"/> were received: long past any retention.</summary>
    public static readonly DateTimeOffset ExpiredAt = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private const string ExpiredText = "expired before the run";

    /// <summary>The highest id of the expired rows, 0 when there are none.</summary>
    private long _expiredThrough;

    /// <summary>Stores <see cref="BenchSettings.ExpiredRows"/> rows received at <see cref="ExpiredAt"/>; the highest id they took.</summary>
    private async Task<long> StoreExpiredAsync(CancellationToken cancellationToken)
    {
        if (settings.ExpiredRows == 0)
        {
            return 0;
        }

        await using (var sink = target.CreateSink(loggers))
        {
            await sink.OpenAsync(cancellationToken);
            for (var stored = 0L; stored < settings.ExpiredRows;)
            {
                var batch = new Batch(settings.BatchSize) { Id = Guid.CreateVersion7() };
                for (; batch.Count < settings.BatchSize && stored < settings.ExpiredRows; stored++)
                {
                    batch.Add(new Message(ExpiredAt, Transport.Tcp, "127.0.0.1:1", ExpiredText, ExpiredText.Length));
                }

                await sink.WriteAsync(batch, cancellationToken);
            }
        }

        var through = await target.HighestIdAsync(cancellationToken);
        await progress.WriteLineAsync(Invariant($"stored {settings.ExpiredRows:N0} rows received on {ExpiredAt:yyyy-MM-dd} before the run"));
        return through;
    }

    private async Task<EndToEndResult> MeasureEndToEndAsync(string label, bool spillOn, HalfKind kind, CancellationToken cancellationToken)
    {
        await target.ResetAsync(cancellationToken);
        DeleteSpillDirectory();
        _expiredThrough = await StoreExpiredAsync(cancellationToken);

        // The prepared batches of the ceiling are garbage now: collect them here, not in the middle of the timed half.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);

        List<string> args = ["serve", "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "none",
            "--batch-size", settings.BatchSize.ToString(CultureInfo.InvariantCulture), "--spill-dir", spillOn ? spillDirectory : "none",
            .. target.ServeArguments];
        if (settings.Writers is { } writers)
        {
            args.AddRange(["--writers", writers.ToString(CultureInfo.InvariantCulture)]);
        }

        args.AddRange(settings.ServeArguments);
        if (kind == HalfKind.Versus)
        {
            args.AddRange(settings.VersusArguments);
        }

        var certificate = kind == HalfKind.Tls ? tls ?? throw new InvalidOperationException("a TLS half needs the certificate") : null;
        if (certificate is not null)
        {
            args.AddRange(["--listen-tls", "127.0.0.1:0", "--tls-cert", certificate.CertificatePath, "--tls-key", certificate.KeyPath]);
        }

        await using var serve = ChildProcess.StartServe(kind == HalfKind.Versus ? settings.VersusServe ?? settings.Serve : settings.Serve, args);
        var transport = certificate is null ? "tcp" : "tls";
        var endpoint = await serve.ListeningAsync(transport, StartTimeout, cancellationToken);
        await progress.WriteLineAsync(Invariant(
            $"{label}: serve (pid {serve.Id}) listening on {transport} {endpoint}; sending {settings.Warmup} to warm up, then {settings.Messages}, over {settings.Connections} connection(s)"));

        var sender = new TcpSender(endpoint, SendFraming.Lf, certificate?.ClientOptions());
        if (settings.Warmup > 0)
        {
            await SendAndWaitAsync(target, [serve], sender, settings, settings.Messages, settings.Warmup, settings.Warmup, _expiredThrough,
                cancellationToken);
        }

        var (report, visibleAt) = await SendAndWaitAsync(target, [serve], sender, settings, 0, settings.Messages, settings.Total, _expiredThrough,
            cancellationToken);

        var peak = serve.PeakResidentBytes();
        serve.Signal(ChildProcess.Sigterm);
        var exitCode = await serve.WaitForExitAsync(DrainTimeout, cancellationToken);
        var summary = serve.OutputLines.LastOrDefault(l => l.StartsWith("accepted=", StringComparison.Ordinal)) ?? "(no summary)";
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"spillway serve exited with code {exitCode} ({summary}):\n{serve.Error}");
        }

        return new EndToEndResult(TimeProvider.System.GetElapsedTime(report.StartedAt, visibleAt), peak, summary);
    }

    /// <summary>
    /// Sends <paramref name="count"/> messages numbered from <paramref name="firstSequence"/> and waits for the database to
    /// hold <paramref name="rows"/> with ids past <paramref name="afterId"/>: what the send did, and when the rows were first
    /// all there. Fails when one of <paramref name="nodes"/> exits meanwhile.
    /// </summary>
    internal static async Task<(SendReport Report, long VisibleAt)> SendAndWaitAsync(
        BenchTarget target, IReadOnlyList<ChildProcess> nodes, TcpSender sender, BenchSettings settings, long firstSequence, long count, long rows,
        long afterId, CancellationToken cancellationToken)
    {
        using var sendCancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var send = sender.SendGeneratedAsync(firstSequence, count, settings.Size, settings.Connections, sendCancellation.Token);
        long visibleAt;
        try
        {
            visibleAt = await WaitForRowsAsync(target, nodes, send, rows, afterId, cancellationToken);
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

        return (report, visibleAt);
    }

    /// <summary>Polls the database until it holds <paramref name="rows"/> messages; the timestamp at which it first did.</summary>
    private static async Task<long> WaitForRowsAsync(
        BenchTarget target, IReadOnlyList<ChildProcess> nodes, Task<SendReport> send, long rows, long afterId, CancellationToken cancellationToken)
    {
        var lastProgress = TimeProvider.System.GetTimestamp();
        var lastHighest = 0L;
        while (true)
        {
            var highest = await target.HighestIdAsync(cancellationToken);

            // Ids only grow and gaps only add to them, so the highest id reaches N no later than the count does. The
            // expired rows stored before the run have the ids up to afterId.
            if (highest - afterId >= rows && await target.CountAsync(afterId, cancellationToken) >= rows)
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
                throw new TimeoutException(Invariant(
                    $"no new row for {StallTimeout.TotalSeconds:F0} s at {highest} of {rows}; serve's log:\n{string.Join("\n", nodes.Select(n => n.Error))}"));
            }

            if (nodes.FirstOrDefault(n => n.HasExited) is { } exited)
            {
                throw new InvalidOperationException($"spillway serve exited during the run:\n{exited.Error}");
            }

            if (send.IsFaulted)
            {
                await send; // throws what failed
            }

            if (send.IsCompletedSuccessfully && send.Result.Errors.Count > 0)
            {
                throw new InvalidOperationException("sending failed: " + string.Join("; ", send.Result.Errors));
            }

            await Task.Delay(PollInterval, TimeProvider.System, cancellationToken);
        }
    }

    /// <summary>
    /// Reads every stored message back: what was sent (warm-up included) minus the distinct sequence numbers stored is
    /// lost, and every further row is a duplicate.
    /// </summary>
    internal static async Task<(long Lost, long Duplicated)> CheckStoredAsync(BenchTarget target, long total, CancellationToken cancellationToken)
    {
        var seen = new BitArray(checked((int)total));
        long distinct = 0, duplicated = 0;
        await foreach (var text in target.ReadMessagesAsync(cancellationToken))
        {
            if (text == ExpiredText)
            {
                continue; // stored before the run, and not deleted yet
            }

            if (!MessageGenerator.TryParse(text, out var seq) || seq >= total)
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

        return (total - distinct, duplicated);
    }
}
