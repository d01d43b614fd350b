namespace Spillway.Pipeline;

/// <summary>Where <see cref="Batcher"/> takes a batch's items from: a buffer's channel, or a run of the spill log.</summary>
public interface IBatchFeed
{
    /// <summary>Takes the next item, if one is there now and may join the batch.</summary>
    bool TryTake(out Messages.IngestItem item);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for another item. False when none will come in time: the time passed,
    /// the input ended, or the batch should be cut now (the next item belongs to another batch, or no more can come
    /// until this one is stored).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="abort"/> was cancelled.</exception>
    ValueTask<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken abort);
}

/// <summary>Cuts a batch by size or by linger, the same for every buffer: one batcher, fed by each buffer's own feed.</summary>
public static class Batcher
{
    /// <summary>
    /// Adds to <paramref name="batch"/> what <paramref name="feed"/> has, until the batch holds
    /// <see cref="BatchWriterOptions.BatchSize"/> items, or <see cref="BatchWriterOptions.Linger"/> has passed since
    /// <paramref name="firstAt"/> (the timestamp of its first item) with nothing more to take, or the feed says to cut.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="abort"/> was cancelled; what was added stays in the batch.</exception>
    public static async ValueTask FillAsync<TFeed>(TFeed feed, Batch batch, long firstAt, BatchWriterOptions limits, TimeProvider time,
        CancellationToken abort)
        where TFeed : IBatchFeed
    {
        ArgumentNullException.ThrowIfNull(feed);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(time);
        while (batch.Count < limits.BatchSize)
        {
            if (feed.TryTake(out var item))
            {
                batch.Add(item);
                continue;
            }

            var remaining = limits.Linger - time.GetElapsedTime(firstAt);
            if (remaining <= TimeSpan.Zero || !await feed.WaitAsync(remaining, time, abort).ConfigureAwait(false))
            {
                return;
            }
        }
    }
}
