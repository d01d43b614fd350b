using System.Globalization;
using System.Text;
using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Spillway.Bench;

/// <summary>One topology measured once: its throughput from the first message sent to the last stored, and its nodes' peak memory.</summary>
internal sealed record TopologyHalf(int Writers, TimeSpan Elapsed, long? EdgePeakBytes, long? WriterPeakBytes, long Lost, long Duplicated, long Rejected);

/// <summary>
/// <c>spillway-bench --topology</c>: the scale-out on NATS JetStream (docs/scale-out.md), one edge and one writer node
/// against one edge and two writer nodes, in each run, through the cluster <c>--nats</c> names, into PostgreSQL: the same
/// messages over TCP to the edge, timed from the first sent to the last stored, each checked stored exactly once.
/// </summary>
internal sealed class TopologyRunner(BenchSettings settings, PostgresBenchTarget target, string nats, string spillDirectory, TextWriter progress)
{
    private static readonly int[] WriterNodes = [1, 2];

    public async Task<List<TopologyHalf>> RunAsync(int runNumber, CancellationToken cancellationToken)
    {
        var halves = new List<TopologyHalf>();
        foreach (var writers in WriterNodes)
        {
            var half = await MeasureAsync(writers, cancellationToken);
            await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"run {runNumber}/{settings.Runs}: 1 edge, {writers} writer(s): {settings.Messages} msgs in {half.Elapsed.TotalSeconds:F2} s: " +
                $"{settings.Messages / half.Elapsed.TotalSeconds,10:N0} msg/s, peak RSS edge {BenchRunner.Mib(half.EdgePeakBytes)}, writer " +
                $"{BenchRunner.Mib(half.WriterPeakBytes)}; lost {half.Lost}, duplicated {half.Duplicated}, rejected {half.Rejected}"));
            halves.Add(half);
        }

        return halves;
    }

    /// <summary>The table and the JSON line of every run: each topology's median, least and greatest, and their ratio.</summary>
    public static string Report(BenchSettings settings, IReadOnlyList<List<TopologyHalf>> runs)
    {
        var text = new StringBuilder();
        var rate = (TopologyHalf h) => settings.Messages / h.Elapsed.TotalSeconds;
        text.AppendLine(CultureInfo.InvariantCulture,
            $"scale-out on NATS JetStream: {settings.Messages} messages of {settings.Size} bytes over {settings.Connections} connection(s) to one edge, {runs.Count} run(s)");
        text.AppendLine("| topology | msg/s median (least-greatest) | edge peak RSS | writer peak RSS |");
        text.AppendLine("|---|---|---|---|");
        for (var i = 0; i < WriterNodes.Length; i++)
        {
            var halves = runs.Select(r => r[i]).ToList();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| 1 edge, {WriterNodes[i]} writer(s) | {Format(halves.Select(rate))} | {BenchRunner.Mib(halves.Max(h => h.EdgePeakBytes))} | " +
                $"{BenchRunner.Mib(halves.Max(h => h.WriterPeakBytes))} |");
        }

        var ratios = runs.Select(r => rate(r[1]) / rate(r[0])).ToList();
        text.AppendLine(CultureInfo.InvariantCulture, $"two writers / one: {Format(ratios, "F2")}");

        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteString("topology", "nats-jetstream");
            writer.WriteNumber("messages", settings.Messages);
            writer.WriteNumber("size", settings.Size);
            writer.WriteStartArray("runs");
            foreach (var run in runs)
            {
                writer.WriteStartArray();
                foreach (var half in run)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("writers", half.Writers);
                    writer.WriteNumber("msg_per_s", Math.Round(rate(half)));
                    writer.WriteNumber("edge_peak_bytes", half.EdgePeakBytes ?? 0);
                    writer.WriteNumber("writer_peak_bytes", half.WriterPeakBytes ?? 0);
                    writer.WriteNumber("lost", half.Lost);
                    writer.WriteNumber("duplicated", half.Duplicated);
                    writer.WriteNumber("rejected", half.Rejected);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        text.AppendLine(Encoding.UTF8.GetString(json.ToArray()));
        return text.ToString();
    }

    private static string Format(IEnumerable<double> values, string format = "N0")
    {
        var spread = Spread.Of(values);
        return string.Create(CultureInfo.InvariantCulture,
            $"{spread.Median.ToString(format, CultureInfo.InvariantCulture)} ({spread.Min.ToString(format, CultureInfo.InvariantCulture)}-{spread.Max.ToString(format, CultureInfo.InvariantCulture)})");
    }

    private async Task<TopologyHalf> MeasureAsync(int writerNodes, CancellationToken cancellationToken)
    {
        await target.ResetAsync(cancellationToken);
        if (Directory.Exists(spillDirectory))
        {
            Directory.Delete(spillDirectory, recursive: true);
        }

        // A stream of the run's own, deleted after it: the measure starts from an empty stream and leaves nothing behind.
        var stream = $"BENCH{Guid.NewGuid():N}"[..17].ToUpperInvariant();
        string[] common =
        [
            "serve", "--nats", nats, "--nats-stream", stream, "--nats-subject", "spillway-bench." + stream,
            "--batch-size", settings.BatchSize.ToString(CultureInfo.InvariantCulture), .. settings.ServeArguments,
        ];
        var nodes = new List<ChildProcess>();
        try
        {
            // The edge first: it makes the stream with the run's settings; then the writers, sharing the consumer.
            var edge = ChildProcess.StartServe(settings.Serve,
                [.. common, "--role", "edge", "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "none", "--spill-dir", spillDirectory]);
            nodes.Add(edge);
            var endpoint = await edge.ListeningAsync("tcp", BenchRunner.StartTimeout, cancellationToken);
            var writers = new List<ChildProcess>();
            for (var i = 0; i < writerNodes; i++)
            {
                var writer = ChildProcess.StartServe(settings.Serve,
                    [.. common, "--role", "writer", "--listen-http", "127.0.0.1:0", .. target.ServeArguments,
                        .. settings.Writers is { } w ? new[] { "--writers", w.ToString(CultureInfo.InvariantCulture) } : []]);
                nodes.Add(writer);
                writers.Add(writer);
                await writer.ListeningAsync("admin", BenchRunner.StartTimeout, cancellationToken);
            }

            var sender = new TcpSender(endpoint, SendFraming.Lf);
            if (settings.Warmup > 0)
            {
                await BenchRunner.SendAndWaitAsync(target, nodes, sender, settings, settings.Messages, settings.Warmup, settings.Warmup, 0, cancellationToken);
            }

            var (report, visibleAt) = await BenchRunner.SendAndWaitAsync(target, nodes, sender, settings, 0, settings.Messages, settings.Total, 0,
                cancellationToken);
            var edgePeak = edge.PeakResidentBytes();
            var writerPeak = writers.Max(w => w.PeakResidentBytes());
            foreach (var node in nodes)
            {
                node.Signal(ChildProcess.Sigterm);
                var exitCode = await node.WaitForExitAsync(BenchRunner.DrainTimeout, cancellationToken);
                if (exitCode != 0)
                {
                    throw new InvalidOperationException($"spillway serve exited with code {exitCode}:\n{node.Error}");
                }
            }

            var (lost, duplicated) = await BenchRunner.CheckStoredAsync(target, settings.Total, cancellationToken);
            return new TopologyHalf(writerNodes, TimeProvider.System.GetElapsedTime(report.StartedAt, visibleAt), edgePeak, writerPeak, lost, duplicated,
                await target.CountRejectsAsync(cancellationToken));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            await DeleteStreamAsync(stream);
        }
    }

    private async Task DeleteStreamAsync(string stream)
    {
        await using var connection = new NatsConnection(new NatsOpts { Url = nats, Name = "spillway-bench" });
        try
        {
            await new NatsJSContext(connection).DeleteStreamAsync(stream, CancellationToken.None);
        }
        catch (NatsException)
        {
            // Never made (the edge did not start), or the cluster is away.
        }
    }
}
