using System.Diagnostics.Metrics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Diagnostics;

/// <summary>
/// The pipeline's instruments on the <see cref="MeterName"/> meter, named after OpenTelemetry's conventions (units
/// in UCUM, durations in seconds). Totals are observed from <see cref="IngestStats"/> and the buffer when a reader
/// collects, so a message costs two interlocked adds (its count and its bytes, by source) and no tag lookup; batch
/// sizes and write durations are recorded by the writers as they happen.
/// </summary>
public sealed class PipelineMetrics
{
    /// <summary>The meter every Spillway instrument is on.</summary>
    public const string MeterName = "Spillway";

    private static readonly IReadOnlyList<Transport> Sources = TransportNames.Listeners;

    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _writeDuration;
    private long _retries;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public PipelineMetrics(IMeterFactory meterFactory, IngestStats stats, IIngestBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(buffer);
        Meter = meterFactory.Create(MeterName);

        Meter.CreateObservableCounter("spillway.messages.received", () => BySource(stats.AcceptedFrom), "{message}",
            "Messages accepted from senders (dropped ones included), by source");
        Meter.CreateObservableCounter("spillway.received.bytes", () => BySource(stats.BytesFrom), "By",
            "Bytes of the frames accepted, as received, by source");
        Meter.CreateObservableCounter("spillway.messages.stored", () => stats.Stored, "{message}",
            "Messages committed to the messages table");
        Meter.CreateObservableCounter("spillway.messages.rejected", () => RejectedByReason(stats), "{message}",
            "Frames committed to the rejects table, by reason");
        Meter.CreateObservableCounter("spillway.messages.dropped", () => DroppedBySource(stats), "{message}",
            "Messages given up because the buffer was full, by source and reason");
        Meter.CreateObservableCounter("spillway.messages.blank", () => BySource(stats.BlankFrom), "{message}",
            "Blank frames skipped, by source");

        Meter.CreateObservableGauge("spillway.buffer.messages", () => buffer.Messages, "{message}",
            "Messages accepted and not yet stored");
        Meter.CreateObservableGauge("spillway.buffer.size", () => buffer.Bytes, "By",
            "Bytes accepted and not yet stored");
        Meter.CreateObservableGauge("spillway.buffer.messages.limit", () => (long)buffer.Options.MaxMessages, "{message}",
            "The buffer's bound in messages");
        Meter.CreateObservableGauge("spillway.buffer.size.limit", () => buffer.Options.MaxBytes, "By",
            "The buffer's bound in bytes");

        _batchSize = Meter.CreateHistogram("spillway.batch.size", "{message}", "Items in each batch written",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 10, 100, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000] });
        _writeDuration = Meter.CreateHistogram("spillway.batch.write.duration", "s", "How long each batch took to store, retries included",
            advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
            });
        // Observed like the totals, so that it is served (as 0) before the first retry.
        Meter.CreateObservableCounter("spillway.writer.retries", () => Volatile.Read(ref _retries), "{retry}", "Failed batch writes, each retried");
    }

    /// <summary>The meter, for instruments observed elsewhere (writer state, open connections).</summary>
    public Meter Meter { get; }

    /// <summary>Records a batch stored.</summary>
    public void OnBatchStored(int items, TimeSpan duration)
    {
        _batchSize.Record(items);
        _writeDuration.Record(duration.TotalSeconds);
    }

    /// <summary>Counts a failed write about to be retried.</summary>
    public void OnRetry() => Interlocked.Increment(ref _retries);

    private static IEnumerable<Measurement<long>> BySource(Func<Transport, long> read) =>
        Sources.Select(source => new Measurement<long>(read(source), new KeyValuePair<string, object?>("source", source.ToName())));

    private static IEnumerable<Measurement<long>> RejectedByReason(IngestStats stats) =>
        RejectReasonNames.All.Select(reason =>
            new Measurement<long>(stats.RejectedFor(reason), new KeyValuePair<string, object?>("reason", reason.ToName())));

    private static IEnumerable<Measurement<long>> DroppedBySource(IngestStats stats) =>
        Sources.Select(source => new Measurement<long>(stats.DroppedFrom(source),
            new KeyValuePair<string, object?>("source", source.ToName()), new KeyValuePair<string, object?>("reason", "buffer-full")));
}
