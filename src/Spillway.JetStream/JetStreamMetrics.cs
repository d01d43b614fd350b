using System.Diagnostics.Metrics;

namespace Spillway.JetStream;

/// <summary>
/// What a node does with the stream: on an edge, publishes (how many, how long, which failed and why); on a writer,
/// messages taken, delivered again, acknowledged; and the stream's and consumer's state as last read.
/// </summary>
public sealed class JetStreamMetrics
{
    private readonly Counter<long> _published;
    private readonly Counter<long> _duplicates;
    private readonly Histogram<double> _publishDuration;
    private readonly Counter<long> _publishFailures;
    private readonly Counter<long> _taken;
    private readonly Counter<long> _redelivered;
    private readonly Counter<long> _ackFailures;
    private readonly Counter<long> _undecodable;
    private long _publishedCount;
    private long _publishFailureCount;
    private long _takenCount;
    private long _redeliveredCount;
    private volatile StateSnapshot _state = new(null, null, null, null, null);

    /// <summary>Creates the instruments on the meter every Spillway instrument is on.</summary>
    public JetStreamMetrics(IMeterFactory meterFactory, string meterName)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(meterName);
        _published = meter.CreateCounter<long>("spillway.jetstream.published", "{message}",
            "Messages (whole batches or parts) this edge published and the stream acknowledged, duplicates included");
        _duplicates = meter.CreateCounter<long>("spillway.jetstream.duplicates", "{message}",
            "Publishes the stream answered as duplicates of a message id it already had (a batch republished after a crash)");
        _publishDuration = meter.CreateHistogram("spillway.jetstream.publish.duration", "s",
            "From a message's publish to the stream's acknowledgement (a majority of its replicas have it)",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _publishFailures = meter.CreateCounter<long>("spillway.jetstream.publish.failures", "{message}",
            "Publishes that failed, by reason: full (the stream's byte limit), no-response, refused (another answer of the stream)");
        _taken = meter.CreateCounter<long>("spillway.jetstream.taken", "{message}",
            "Messages this writer took from the stream's consumer");
        _redelivered = meter.CreateCounter<long>("spillway.jetstream.redelivered", "{message}",
            "Messages this writer took that had been delivered before (a writer died or let the ack wait pass)");
        _ackFailures = meter.CreateCounter<long>("spillway.jetstream.ack.failures", "{message}",
            "Acknowledgements of stored batches that did not reach the stream (delivered again, stored once by the ledger)");
        _undecodable = meter.CreateCounter<long>("spillway.jetstream.undecodable", "{message}",
            "Messages taken from the stream that are not Spillway batches, kept as undecodable rejects");
        meter.CreateObservableGauge("spillway.jetstream.stream.bytes", () => Some(_state.StreamBytes), "By",
            "The stream's bytes, as last read (every few seconds)");
        meter.CreateObservableGauge("spillway.jetstream.stream.messages", () => Some(_state.StreamMessages), "{message}",
            "The stream's messages, as last read");
        meter.CreateObservableGauge("spillway.jetstream.consumer.pending", () => Some(_state.Pending), "{message}",
            "Messages in the stream not yet delivered to a writer, as last read (writer nodes)");
        meter.CreateObservableGauge("spillway.jetstream.consumer.ack_pending", () => Some(_state.AckPending), "{message}",
            "Messages delivered to writers and not yet acknowledged, as last read (writer nodes)");
        meter.CreateObservableGauge("spillway.jetstream.consumer.redelivered", () => Some(_state.Redelivered), "{message}",
            "Messages the consumer has delivered more than once and not yet acknowledged, as last read (writer nodes)");
    }

    /// <summary>The stream's and consumer's state as last read; null fields were not read.</summary>
    public StateSnapshot State => _state;

    /// <summary>Publishes acknowledged since the start.</summary>
    public long Published => Interlocked.Read(ref _publishedCount);

    /// <summary>Publishes that failed since the start.</summary>
    public long PublishFailures => Interlocked.Read(ref _publishFailureCount);

    /// <summary>Messages taken from the consumer since the start.</summary>
    public long Taken => Interlocked.Read(ref _takenCount);

    /// <summary>Messages taken that had been delivered before.</summary>
    public long Redelivered => Interlocked.Read(ref _redeliveredCount);

    internal void OnPublished(bool duplicate, TimeSpan took)
    {
        Interlocked.Increment(ref _publishedCount);
        _published.Add(1);
        _publishDuration.Record(took.TotalSeconds);
        if (duplicate)
        {
            _duplicates.Add(1);
        }
    }

    internal void OnPublishFailed(string reason)
    {
        Interlocked.Increment(ref _publishFailureCount);
        _publishFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    internal void OnTaken(ulong deliveries)
    {
        Interlocked.Increment(ref _takenCount);
        _taken.Add(1);
        if (deliveries > 1)
        {
            Interlocked.Increment(ref _redeliveredCount);
            _redelivered.Add(1);
        }
    }

    internal void OnAckFailed() => _ackFailures.Add(1);

    internal void OnUndecodable() => _undecodable.Add(1);

    /// <summary>Reads the stream's (and on a writer the consumer's) state for the gauges.</summary>
    public async Task PollAsync(JetStreamClient client, bool consumer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var (stream, info) = await client.StateAsync(consumer, cancellationToken).ConfigureAwait(false);
        _state = new StateSnapshot(stream?.Bytes is { } b ? (long)b : null, stream?.Messages is { } m ? (long)m : null,
            info is null ? null : (long)info.NumPending, info?.NumAckPending, info?.NumRedelivered);
    }

    private static IEnumerable<Measurement<long>> Some(long? value) => value is { } v ? [new Measurement<long>(v)] : [];

    /// <summary>The stream's and consumer's state as last read.</summary>
    public sealed record StateSnapshot(long? StreamBytes, long? StreamMessages, long? Pending, long? AckPending, long? Redelivered);
}
