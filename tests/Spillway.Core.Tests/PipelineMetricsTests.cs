using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Core.Tests;

public sealed class PipelineMetricsTests : IDisposable
{
    private readonly TestMeterFactory _meters = new();
    private readonly IngestStats _stats = new();
    private readonly IngestBuffer _buffer;
    private readonly PipelineMetrics _metrics;

    public PipelineMetricsTests()
    {
        _buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = 1_000, MaxBytes = 1 << 20 }, _stats);
        _metrics = new PipelineMetrics(_meters, _stats, _buffer);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _meters.Dispose();

    [Fact]
    public void Totals_are_observed_by_source_and_reason_from_the_counts()
    {
        Assert.True(_buffer.TryWrite(Item(Transport.Tcp, 10)));
        Assert.True(_buffer.TryWrite(Item(Transport.Tcp, 20)));
        Assert.True(_buffer.TryWrite(Item(Transport.Udp, 5)));
        _stats.OnDropped(Transport.Udp, 7);
        _stats.OnBlank(Transport.Http);
        _stats.OnCommitted(2, [TestItems.Reject(RejectReason.InvalidUtf8)]);

        Assert.Equal(new Dictionary<string, long> { ["tcp"] = 2, ["udp"] = 2, ["http"] = 0, ["tls"] = 0, ["https"] = 0 },
            Observe("spillway.messages.received", "source"));
        Assert.Equal(new Dictionary<string, long> { ["tcp"] = 30, ["udp"] = 12, ["http"] = 0, ["tls"] = 0, ["https"] = 0 },
            Observe("spillway.received.bytes", "source"));
        Assert.Equal(new Dictionary<string, long> { ["tcp"] = 0, ["udp"] = 1, ["http"] = 0, ["tls"] = 0, ["https"] = 0 },
            Observe("spillway.messages.dropped", "source"));
        Assert.Equal(new Dictionary<string, long> { ["tcp"] = 0, ["udp"] = 0, ["http"] = 1, ["tls"] = 0, ["https"] = 0 },
            Observe("spillway.messages.blank", "source"));
        Assert.Equal(1, Observe("spillway.messages.rejected", "reason")["invalid-utf8"]);
        Assert.Equal(0, Observe("spillway.messages.rejected", "reason")["oversize"]);
        Assert.Equal(2, Observe("spillway.messages.stored")[""]);
        Assert.Equal(3, Observe("spillway.buffer.messages")[""]);
        Assert.Equal(35, Observe("spillway.buffer.size")[""]);
        Assert.Equal(1_000, Observe("spillway.buffer.messages.limit")[""]);
        Assert.Equal(1 << 20, Observe("spillway.buffer.size.limit")[""]);
    }

    [Fact]
    public async Task The_writer_records_each_batch_and_each_retry()
    {
        using var sizes = new MetricCollector<long>(_metrics.Meter, "spillway.batch.size");
        using var durations = new MetricCollector<double>(_metrics.Meter, "spillway.batch.write.duration");
        using var retries = new MetricCollector<long>(_metrics.Meter, "spillway.writer.retries");
        var time = new SignallingTimeProvider();
        var writer = new BatchWriter(_buffer, new RecordingSink(failures: 2), new BatchWriterOptions { BatchSize = 4 }, _stats, time,
            NullLogger<BatchWriter>.Instance, _metrics, new Random(42));
        for (var i = 0; i < 6; i++)
        {
            await _buffer.WriteAsync(TestItems.Message($"m{i}"), Ct);
        }

        _buffer.Complete();
        var run = writer.RunAsync(Ct);
        for (var retry = 0; retry < 2; retry++)
        {
            time.Advance(await time.NextTimerAsync());
        }

        await run.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal([4, 2], sizes.GetMeasurementSnapshot().Select(m => m.Value));
        Assert.Equal(2, durations.GetMeasurementSnapshot().Count);
        Assert.True(durations.GetMeasurementSnapshot()[0].Value > 0); // the first batch waited out two backoffs
        retries.RecordObservableInstruments();
        Assert.Equal(2, retries.LastMeasurement?.Value);
    }

    private static Message Item(Transport transport, int size) => new(DateTimeOffset.UnixEpoch, transport, "127.0.0.1:1", "m", size);

    /// <summary>The last value observed for each value of <paramref name="tag"/> (or under "" without a tag).</summary>
    private Dictionary<string, long> Observe(string instrument, string? tag = null)
    {
        using var collector = new MetricCollector<long>(_metrics.Meter, instrument);
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot().ToDictionary(m => tag is null ? "" : (string)m.Tags[tag]!, m => m.Value);
    }
}
