using Spillway.Messages;

namespace Spillway.Pipeline;

/// <summary>
/// What sits between the sources and the writers: sources write items into it, writers take batches out of it and
/// commit them once the sink has stored them. The in-memory <see cref="IngestBuffer"/> and the crash-safe spill log
/// both keep this contract, so neither sources nor writers nor sinks know which one they run on.
/// </summary>
/// <remarks>
/// An item counts as accepted once a write returns (true). Its capacity is given back only by <see cref="Commit"/>,
/// so the bounds cover everything accepted and not yet stored. An item's <see cref="IngestItem.Receipt"/> is told
/// when the buffer holds the item for good: once stored for the memory buffer, once on disk for the spill log.
/// </remarks>
public interface IIngestBuffer
{
    /// <summary>The in-memory bounds.</summary>
    IngestBufferOptions Options { get; }

    /// <summary>Items accepted and not yet committed.</summary>
    long Messages { get; }

    /// <summary>Frame bytes of the items accepted and not yet committed.</summary>
    long Bytes { get; }

    /// <summary>
    /// Makes ready what the buffer needs before writers take from it, failing the start with the reason when it cannot (the
    /// JetStream consumer a writer node takes from); most buffers are ready once made.
    /// </summary>
    /// <exception cref="Sinks.SinkUnavailableException">What the buffer takes from cannot be had; the message says why.</exception>
    ValueTask OpenAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Writes an item, waiting while the buffer is full. The item counts as accepted once this completes.</summary>
    /// <exception cref="OperationCanceledException">The wait was cancelled; the item was not accepted.</exception>
    /// <exception cref="InvalidOperationException">The buffer was completed.</exception>
    ValueTask WriteAsync(IngestItem item, CancellationToken cancellationToken = default);

    /// <summary>Writes an item if there is room now; never waits.</summary>
    /// <returns>True when the item was accepted; false when the buffer is full.</returns>
    /// <exception cref="InvalidOperationException">The buffer was completed.</exception>
    bool TryWrite(IngestItem item);

    /// <summary>
    /// Writes all the items or none: if they all fit now, they are accepted together; otherwise nothing is, and the
    /// caller can answer its sender "full, retry" without having accepted part of what it sent. Never waits.
    /// </summary>
    /// <returns>True when every item was accepted; false when they do not all fit now.</returns>
    /// <exception cref="InvalidOperationException">The buffer was completed.</exception>
    bool TryWriteAll(IReadOnlyList<IngestItem> items);

    /// <summary>True when the items could fit in the buffer were it empty: false means they never will, together.</summary>
    bool CouldEverHold(int items, long bytes);

    /// <summary>
    /// Marks the end of input: no source will write again. Writers drain what is left. Idempotent. Writes still
    /// waiting for room fail, since their items were never accepted.
    /// </summary>
    void Complete();

    /// <summary>
    /// Fills <paramref name="batch"/> (empty on entry) with up to <see cref="BatchWriterOptions.BatchSize"/> items,
    /// returning once it is full, <see cref="BatchWriterOptions.Linger"/> has passed since its first item, or the
    /// buffer is complete and drained. Several writers may take at once; each commits what it took.
    /// </summary>
    /// <returns>False once the buffer is complete and drained (the batch is then empty); true otherwise.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="abort"/> was cancelled.</exception>
    ValueTask<bool> TakeAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort);

    /// <summary>
    /// Tells the buffer that the sink has stored <paramref name="batch"/>: its capacity is given back, and the buffer
    /// may forget its items.
    /// </summary>
    void Commit(Batch batch);
}
