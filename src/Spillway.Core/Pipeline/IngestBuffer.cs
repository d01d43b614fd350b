using System.Threading.Channels;
using Spillway.Diagnostics;
using Spillway.Messages;

namespace Spillway.Pipeline;

/// <summary>
/// The bounded pipeline between sources and writers, limited in items and in bytes. Capacity is taken when an item
/// is written and given back only by <see cref="Commit(Batch)"/>, after the sink has stored it, so the bounds cover
/// everything accepted and not yet stored. A writer that finds it full waits (that is how TCP pushes back on its
/// senders); waiters are served in arrival order.
/// </summary>
/// <remarks>
/// Sources write from many threads; one writer or several read (each commits what it took).
/// <see cref="Complete"/> means no source will write again: the readers then drain what is left and their
/// <c>WaitToReadAsync</c> returns false.
/// </remarks>
public sealed class IngestBuffer : IIngestBuffer
{
    private readonly Channel<IngestItem> _channel = Channel.CreateUnbounded<IngestItem>(
        new UnboundedChannelOptions { SingleReader = false, SingleWriter = true, AllowSynchronousContinuations = false });

    private readonly ChannelFeed _feed;
    private readonly IngestStats _stats;
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _messages;
    private long _bytes;
    private bool _completed;

    /// <summary>Creates an empty buffer.</summary>
    public IngestBuffer(IngestBufferOptions options, IngestStats stats)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stats);
        options.Validate();
        Options = options;
        _stats = stats;
        _feed = new ChannelFeed(_channel.Reader);
    }

    /// <inheritdoc />
    public IngestBufferOptions Options { get; }

    /// <summary>The reading side, for the writers that drain the buffer.</summary>
    public ChannelReader<IngestItem> Reader => _channel.Reader;

    /// <inheritdoc />
    public long Messages => Interlocked.Read(ref _messages);

    /// <inheritdoc />
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>
    /// Writes an item, waiting while the buffer is full. The item counts as accepted once this completes.
    /// </summary>
    /// <exception cref="OperationCanceledException">The wait was cancelled; the item was not accepted.</exception>
    /// <exception cref="InvalidOperationException">The buffer was completed.</exception>
    public ValueTask WriteAsync(IngestItem item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        cancellationToken.ThrowIfCancellationRequested();
        Waiter waiter;
        lock (_gate)
        {
            ThrowIfCompleted();
            if (_waiters.Count == 0 && Fits(item.Size))
            {
                Admit(item);
                return ValueTask.CompletedTask;
            }

            waiter = new Waiter(this, item);
            waiter.Node = _waiters.AddLast(waiter);
        }

        return WaitAsync(waiter, cancellationToken);
    }

    /// <summary>Writes an item if there is room now; never waits.</summary>
    /// <returns>True when the item was accepted; false when the buffer is full.</returns>
    /// <exception cref="InvalidOperationException">The buffer was completed.</exception>
    public bool TryWrite(IngestItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        lock (_gate)
        {
            ThrowIfCompleted();
            if (_waiters.Count != 0 || !Fits(item.Size))
            {
                return false;
            }

            Admit(item);
            return true;
        }
    }

    /// <summary>
    /// Writes all the items or none: if they all fit now, they are accepted together; otherwise nothing is, and the
    /// caller can answer its sender "full, retry" without having accepted part of what it sent. Never waits.
    /// </summary>
    /// <returns>True when every item was accepted; false when they do not all fit now.</returns>
    /// <exception cref="InvalidOperationException">The buffer was completed.</exception>
    public bool TryWriteAll(IReadOnlyList<IngestItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        long bytes = 0;
        foreach (var item in items)
        {
            bytes += item.Size;
        }

        lock (_gate)
        {
            ThrowIfCompleted();
            if (_waiters.Count != 0 || _messages + items.Count > Options.MaxMessages || _bytes + bytes > Options.MaxBytes)
            {
                return false;
            }

            foreach (var item in items)
            {
                Admit(item);
            }

            return true;
        }
    }

    /// <summary>True when the items could fit in the buffer were it empty: false means they never will, together.</summary>
    public bool CouldEverHold(int items, long bytes) => items <= Options.MaxMessages && bytes <= Options.MaxBytes;

    /// <summary>
    /// Gives back the capacity of items that the sink has stored, and admits waiting writers that now fit.
    /// </summary>
    /// <param name="messages">How many items were stored.</param>
    /// <param name="bytes">Their <see cref="IngestItem.Size"/>, summed.</param>
    public void Commit(int messages, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(messages);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_gate)
        {
            if (messages > _messages || bytes > _bytes)
            {
                throw new InvalidOperationException(
                    $"Commit of {messages} items ({bytes} bytes) exceeds what the buffer holds ({_messages} items, {_bytes} bytes).");
            }

            Interlocked.Add(ref _messages, -messages);
            Interlocked.Add(ref _bytes, -bytes);
            AdmitWaiters();
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> TakeAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(time);
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync(abort).ConfigureAwait(false))
        {
            if (!reader.TryRead(out var first))
            {
                continue; // another writer took it: wait again
            }

            var firstAt = time.GetTimestamp();
            batch.Id = Guid.CreateVersion7(time.GetUtcNow());
            batch.Add(first);
            await Batcher.FillAsync(_feed, batch, firstAt, limits, time, abort).ConfigureAwait(false);
            return true;
        }

        return false;
    }

    /// <summary>Gives back the batch's capacity and tells its items' receipts that they are stored.</summary>
    public void Commit(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Commit(batch.Count, batch.Bytes);
        batch.AcknowledgeReceipts();
    }

    /// <inheritdoc />
    public void Complete()
    {
        List<Waiter> failed;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            failed = [.. _waiters];
            _waiters.Clear();
            _channel.Writer.TryComplete();
        }

        foreach (var waiter in failed)
        {
            waiter.Completion.TrySetException(new InvalidOperationException("The ingest buffer was completed while this write waited."));
        }
    }

    private bool Fits(int size) =>
        _messages < Options.MaxMessages
        && (_bytes + size <= Options.MaxBytes || _messages == 0); // an item larger than the whole bound still gets in alone

    private void Admit(IngestItem item)
    {
        Interlocked.Increment(ref _messages);
        Interlocked.Add(ref _bytes, item.Size);
        _stats.OnAccepted(item.Transport, item.Size);

        // Unbounded and completed only under _gate, so this cannot fail.
        if (!_channel.Writer.TryWrite(item))
        {
            throw new InvalidOperationException("The ingest channel refused an item it had room for.");
        }
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw new InvalidOperationException("The ingest buffer is complete: no source may write to it.");
        }
    }

    private static async ValueTask WaitAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        // The registration lives exactly as long as the wait, whichever way the wait ends.
        waiter.Token = cancellationToken;
        using (cancellationToken.UnsafeRegister(static state => ((Waiter)state!).Cancel(), waiter))
        {
            await waiter.Completion.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Admits waiters from the head of the queue while they fit. Called under <see cref="_gate"/>.</summary>
    private void AdmitWaiters()
    {
        // Completions run their continuations asynchronously, so completing under the lock is safe.
        while (_waiters.First is { } head && Fits(head.Value.Item.Size))
        {
            _waiters.RemoveFirst();
            Admit(head.Value.Item);
            head.Value.Completion.TrySetResult();
        }
    }

    private void Cancel(Waiter waiter)
    {
        lock (_gate)
        {
            if (waiter.Node?.List is null)
            {
                return; // admitted or failed before the cancellation arrived
            }

            _waiters.Remove(waiter.Node);
            waiter.Completion.TrySetCanceled(waiter.Token);

            // Smaller items queued behind the cancelled one may fit now.
            AdmitWaiters();
        }
    }

    private sealed class Waiter(IngestBuffer owner, IngestItem item)
    {
        public IngestItem Item { get; } = item;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }

        public CancellationToken Token { get; set; }

        public void Cancel() => owner.Cancel(this);
    }

    /// <summary>The channel, as the batcher takes from it.</summary>
    private sealed class ChannelFeed(ChannelReader<IngestItem> reader) : IBatchFeed
    {
        public bool TryTake(out IngestItem item) => reader.TryRead(out item!);

        public ValueTask<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken abort) =>
            Linger.WaitToReadAsync(reader, timeout, time, abort);
    }
}
