using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Core.Tests;

public sealed class BatchWriterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (IngestBuffer Buffer, IngestStats Stats, BatchWriter Writer) Create(
        RecordingSink sink, TimeProvider time, BatchWriterOptions? options = null, IngestBufferOptions? bufferOptions = null)
    {
        var stats = new IngestStats();
        var buffer = new IngestBuffer(bufferOptions ?? new IngestBufferOptions(), stats);
        var writer = new BatchWriter(buffer, sink, options ?? new BatchWriterOptions(), stats, time, NullLogger<BatchWriter>.Instance,
            jitter: new Random(42));
        return (buffer, stats, writer);
    }

    [Fact]
    public async Task Batches_are_cut_at_the_size_limit()
    {
        var sink = new RecordingSink();
        var (buffer, stats, writer) = Create(sink, new SignallingTimeProvider(), new BatchWriterOptions { BatchSize = 3 });
        for (var i = 0; i < 7; i++)
        {
            await buffer.WriteAsync(TestItems.Message($"m{i}"), Ct);
        }

        buffer.Complete();
        await writer.RunAsync(Ct).WaitAsync(TestTimeouts.Wait, Ct);

        Assert.Equal([3, 3, 1], sink.BatchSizes);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"m{i}"), sink.Stored);
        Assert.Equal(7, stats.Stored);
        Assert.Equal(0, buffer.Messages);
    }

    [Fact]
    public async Task A_partial_batch_is_written_when_its_linger_has_passed_and_not_before()
    {
        var time = new SignallingTimeProvider();
        var sink = new RecordingSink();
        var linger = TimeSpan.FromSeconds(1);
        var (buffer, _, writer) = Create(sink, time, new BatchWriterOptions { BatchSize = 100, Linger = linger });
        await buffer.WriteAsync(TestItems.Message("a"), Ct);
        await buffer.WriteAsync(TestItems.Message("b"), Ct);

        var run = writer.RunAsync(Ct);
        Assert.Equal(linger, await time.NextTimerAsync()); // parked on the linger timer with both items in hand

        time.Advance(linger - TimeSpan.FromMilliseconds(1));
        Assert.Empty(sink.BatchSizes);

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, await sink.FirstWrite.Task.WaitAsync(TestTimeouts.Wait, Ct));

        buffer.Complete();
        await run.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal([2], sink.BatchSizes);
    }

    [Fact]
    public async Task A_failing_sink_is_retried_with_growing_backoff_and_nothing_is_lost_or_doubled()
    {
        const int Failures = 5;
        var time = new SignallingTimeProvider();
        var sink = new RecordingSink(failures: Failures);
        var options = new BatchWriterOptions
        {
            BatchSize = 10, RetryInitialDelay = TimeSpan.FromMilliseconds(100), RetryMaxDelay = TimeSpan.FromSeconds(1),
        };
        var (buffer, stats, writer) = Create(sink, time, options);
        for (var i = 0; i < 25; i++)
        {
            await buffer.WriteAsync(TestItems.Message($"m{i}"), Ct);
        }

        buffer.Complete();
        var run = writer.RunAsync(Ct);

        var caps = new[] { 100, 200, 400, 800, 1000 };
        foreach (var cap in caps)
        {
            var delay = await time.NextTimerAsync();
            Assert.InRange(delay, TimeSpan.FromMilliseconds(cap / 2.0), TimeSpan.FromMilliseconds(cap));
            Assert.Equal(WriterState.Retrying, writer.State);
            Assert.NotNull(writer.RetryingSince);
            Assert.StartsWith("injected failure", writer.LastError, StringComparison.Ordinal);
            time.Advance(delay);
        }

        await run.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"m{i}"), sink.Stored);
        Assert.Equal(Failures + 3, sink.Attempts);
        Assert.Equal(25, stats.Stored);
        Assert.Equal(0, stats.Pending);
        Assert.Null(writer.RetryingSince);
    }

    [Fact]
    public async Task Capacity_comes_back_only_after_the_sink_has_stored_the_batch()
    {
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var (buffer, _, writer) = Create(sink, new SignallingTimeProvider(), new BatchWriterOptions { BatchSize = 2 },
            new IngestBufferOptions { MaxMessages = 2 });
        await buffer.WriteAsync(TestItems.Message("a"), Ct);
        await buffer.WriteAsync(TestItems.Message("b"), Ct);
        var run = writer.RunAsync(Ct);
        await sink.FirstWrite.Task.WaitAsync(TestTimeouts.Wait, Ct); // the batch is in the sink's hands, not yet stored

        var blocked = buffer.WriteAsync(TestItems.Message("c"), Ct).AsTask();
        Assert.False(blocked.IsCompleted);

        sink.Gate.SetResult();
        await blocked.WaitAsync(TestTimeouts.Wait, Ct);
        buffer.Complete();
        await run.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(["a", "b", "c"], sink.Stored);
    }

    [Fact]
    public async Task Drain_stores_every_message_written_by_concurrent_producers()
    {
        for (var iteration = 0; iteration < TestTimeouts.Iterations(10); iteration++)
        {
            var sink = new RecordingSink();
            var (buffer, stats, writer) = Create(sink, TimeProvider.System, new BatchWriterOptions { BatchSize = 97, Linger = TimeSpan.Zero },
                new IngestBufferOptions { MaxMessages = 500 });
            var run = writer.RunAsync(Ct);
            var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
            {
                for (var i = 0; i < 5_000; i++)
                {
                    await buffer.WriteAsync(TestItems.Message($"{p}-{i}"), Ct);
                }
            }, Ct)).ToArray();

            await Task.WhenAll(producers).WaitAsync(TestTimeouts.Wait, Ct);
            buffer.Complete();
            await run.WaitAsync(TestTimeouts.Wait, Ct);

            Assert.Equal(20_000, sink.Stored.Count);
            Assert.Equal(20_000, sink.Stored.Distinct().Count());
            Assert.Equal(stats.Accepted, stats.Stored);
            Assert.Equal(WriterState.Stopped, writer.State);
        }
    }

    [Fact]
    public async Task A_writer_is_retrying_through_its_attempts_after_a_failure_until_one_succeeds()
    {
        // The state alerts are written on ("retrying for minutes"): an attempt after a failure, which may itself take
        // as long as the database's timeout, is still retrying, not writing.
        var time = new SignallingTimeProvider();
        var sink = new RecordingSink(failures: 1);
        var (buffer, stats, writer) = Create(sink, time);
        await buffer.WriteAsync(TestItems.Message("a"), Ct);
        buffer.Complete();
        var run = writer.RunAsync(Ct);
        Assert.Equal(new BatchWriterOptions().Linger, await time.NextTimerAsync());
        var backoff = await time.NextTimerAsync();
        Assert.Equal(WriterState.Retrying, writer.State);

        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        sink.Gate = held;
        time.Advance(backoff);
        await Eventually.Until(() => sink.Calls == 2, "the second attempt to begin");
        Assert.Equal(WriterState.Retrying, writer.State);
        Assert.NotNull(writer.RetryingSince);

        held.SetResult();
        await run.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Null(writer.RetryingSince);
        Assert.Equal(WriterState.Stopped, writer.State);
        Assert.Equal(1, stats.Stored);
    }

    [Fact]
    public async Task Abort_ends_a_writer_stuck_retrying_and_leaves_the_batch_counted_as_pending()
    {
        var time = new SignallingTimeProvider();
        var sink = new RecordingSink { FailAlways = true };
        var (buffer, stats, writer) = Create(sink, time);
        await buffer.WriteAsync(TestItems.Message("a"), Ct);
        buffer.Complete();

        using var abort = new CancellationTokenSource();
        var run = writer.RunAsync(abort.Token);
        Assert.Equal(new BatchWriterOptions().Linger, await time.NextTimerAsync()); // the buffer is complete: the linger ends at once
        await time.NextTimerAsync(); // the first backoff
        Assert.Equal(WriterState.Retrying, writer.State);
        await abort.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TestTimeouts.Wait, Ct));
        Assert.Equal(0, stats.Stored);
        Assert.Equal(1, stats.Pending);
    }

    [Fact]
    public async Task Rejects_travel_with_their_batch_and_are_counted_by_reason()
    {
        var sink = new RecordingSink();
        var (buffer, stats, writer) = Create(sink, new SignallingTimeProvider());
        await buffer.WriteAsync(TestItems.Message("ok"), Ct);
        await buffer.WriteAsync(TestItems.Reject(RejectReason.InvalidUtf8), Ct);
        await buffer.WriteAsync(TestItems.Reject(RejectReason.Oversize), Ct);
        await buffer.WriteAsync(TestItems.Reject(RejectReason.Oversize), Ct);
        buffer.Complete();
        await writer.RunAsync(Ct).WaitAsync(TestTimeouts.Wait, Ct);

        Assert.Equal(["ok"], sink.Stored);
        Assert.Equal(3, sink.Rejects.Count);
        Assert.Equal(1, stats.Stored);
        Assert.Equal(3, stats.Rejected);
        Assert.Equal(2, stats.RejectedFor(RejectReason.Oversize));
        Assert.Equal(1, stats.RejectedFor(RejectReason.InvalidUtf8));
        Assert.Equal("accepted=4 stored=1 rejected=3 dropped=0", stats.Summary());
    }
}
