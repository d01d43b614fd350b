using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Spill;

/// <summary>
/// What the sources, the flusher and the reader share, behind one lock: admission against the disk budget and the
/// memory bound, the records not yet written, the memory copy the reader takes from while it keeps up, the positions
/// (next sequence number, how far the log is written, how far it is stored), the batches in flight, and whether the
/// disk is refusing writes. Each other part owns its own files; this owns no file.
/// </summary>
/// <remarks>
/// Positions: every record before <c>_written</c> is either in a segment file (and readable) or was given back
/// to its sender; records at or after it wait in <see cref="_pending"/> or in the flusher's hands. The reader is handed
/// only records before <c>_written</c>, so a record the disk refuses can still be given back whole.
/// </remarks>
internal sealed class LogState
{
    private readonly SpillOptions _options;
    private readonly IngestBufferOptions _memory;
    private readonly IngestStats _stats;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Appended and not yet handed to the flusher; and the flusher's spare, swapped in when it takes them.
    private PendingRecords _pending = new();
    private PendingRecords _spare = new();

    // The memory copy: the records appended since the reader caught up, while they fit the memory bound.
    private readonly Queue<(long Sequence, IngestItem Item)> _cache = new();
    private long _cacheBytes;
    private bool _attached;

    private long _nextSequence;
    private long _written;
    private long _diskBytes;
    private long _messages;
    private long _bytes;
    private long _writtenBytes;
    private long _budget;
    private long _segmentBytes;
    private bool _completed;
    private bool _full;
    private string? _refusal;
    private DateTimeOffset? _refusingSince;
    private readonly LogPacer _fullLog;
    private readonly LogPacer _behindLog;
    private readonly LogPacer _refusalLog;
    private long _givenBack;
    private TaskCompletionSource? _dataWaiter;
    private TaskCompletionSource? _roomWaiter;
    private volatile string? _failure;

    // Cuts handed out and not yet committed, in order; the checkpoint may pass the done ones at the front.
    private readonly LinkedList<InFlight> _inFlight = new();
    private readonly Dictionary<Batch, LinkedListNode<InFlight>> _byBatch = new(ReferenceEqualityComparer.Instance);
    private long _committedNext;

    public LogState(SpillOptions options, IngestBufferOptions memory, IngestStats stats, TimeProvider time, ILogger logger, Recovered recovered)
    {
        _options = options;
        _memory = memory;
        _stats = stats;
        _time = time;
        _logger = logger;
        _fullLog = new LogPacer(time);
        _behindLog = new LogPacer(time);
        _refusalLog = new LogPacer(time);
        _nextSequence = recovered.NextSequence;
        _written = recovered.NextSequence;
        _committedNext = recovered.Checkpoint.Next;
        _diskBytes = recovered.Segments.Sum(s => s.Length);
        _messages = recovered.ReplayRecords;
        _bytes = recovered.ReplayBytes;
        _budget = options.MaxBytes;
        _segmentBytes = options.SegmentBytesFor(options.MaxBytes);
    }

    /// <summary>Wakes the flusher: records were appended, a batch committed, or the buffer completed.</summary>
    public Channel<bool> FlushSignal { get; } = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public long Messages => Interlocked.Read(ref _messages);

    public long Bytes => Interlocked.Read(ref _bytes);

    public long DiskBytes => Interlocked.Read(ref _diskBytes);

    public long WrittenBytes => Interlocked.Read(ref _writtenBytes);

    /// <summary>Messages taken from senders and given back to them (answered 503) because the disk refused to write them.</summary>
    public long GivenBack => Interlocked.Read(ref _givenBack);

    /// <summary>The disk budget in force: the configured one, capped by the free space of the filesystem.</summary>
    public long Budget => Interlocked.Read(ref _budget);

    /// <summary>The size at which a segment file is closed and a new one begun, following the budget.</summary>
    public long SegmentBytes => Interlocked.Read(ref _segmentBytes);

    public string? Failure => _failure;

    public Task Faulted => _faulted.Task;

    /// <summary>Why the disk refuses writes now (it is full, or the process out of descriptors), or null while it takes them.</summary>
    public string? Refusal
    {
        get
        {
            lock (_gate)
            {
                return _refusal is null ? null : $"{_refusal} (since {_refusingSince:O})";
            }
        }
    }

    public bool Refusing
    {
        get
        {
            lock (_gate)
            {
                return _refusal is not null;
            }
        }
    }

    public long CommittedNext
    {
        get
        {
            lock (_gate)
            {
                return _committedNext;
            }
        }
    }

    /// <summary>True while every record appended (and not given back) is stored: the segments hold nothing still needed.</summary>
    public bool AllStored
    {
        get
        {
            lock (_gate)
            {
                return _messages == 0 && _pending.Count == 0 && _inFlight.Count == 0;
            }
        }
    }

    // ---- the sources' side ----

    /// <summary>
    /// Appends the record if it fits now; otherwise returns a task that completes when there may be room.
    /// <paramref name="waits"/>: the sender waits for room (TCP held back) rather than being refused (UDP dropped).
    /// </summary>
    public bool TryAppend(IngestItem item, Span<byte> record, bool waits, out Task? room)
    {
        lock (_gate)
        {
            ThrowIfClosed();
            if (HasRoom(record.Length, waits))
            {
                Append(item, record);
                room = null;
                return true;
            }

            _roomWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            room = _roomWaiter.Task;
            return false;
        }
    }

    /// <summary>Appends all the records or none: a request answered now, taken or refused (HTTP).</summary>
    public bool TryAppendAll(IReadOnlyList<IngestItem> items, byte[][] records, long total)
    {
        lock (_gate)
        {
            ThrowIfClosed();
            if (!HasRoom(total, waits: false))
            {
                return false;
            }

            for (var i = 0; i < items.Count; i++)
            {
                Append(items[i], records[i]);
            }

            return true;
        }
    }

    public void Complete()
    {
        TaskCompletionSource? data, room;
        lock (_gate)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            (data, _dataWaiter) = (_dataWaiter, null);
            (room, _roomWaiter) = (_roomWaiter, null);
        }

        data?.TrySetResult();
        room?.TrySetResult(); // the waiting writes find the buffer completed and throw
        FlushSignal.Writer.TryWrite(true);
    }

    /// <summary>
    /// True when records of <paramref name="length"/> bytes fit: the disk takes writes, they are within the budget, and,
    /// while the disk is behind, within the memory bound for records not yet written. Under the gate.
    /// </summary>
    /// <remarks>
    /// A sender that waits for room (<paramref name="waits"/>: TCP held back) is held at the bound; one that is refused
    /// instead (HTTP answered 503, UDP dropped) may use as much again, so that senders that wait, woken each time the
    /// flusher takes what waits, cannot keep the others out. A request of more than half of that is taken once at most
    /// its own size waits, so that an HTTP body larger than the bound is never starved by smaller ones. What waits stays
    /// within the larger of twice the bound and twice the largest request.
    /// </remarks>
    private bool HasRoom(long length, bool waits)
    {
        if (_refusal is not null)
        {
            return false;
        }

        if (_diskBytes > 0 && _diskBytes + length > _budget)
        {
            OnFull();
            return false;
        }

        var bound = waits ? _memory.MaxBytes : 2 * _memory.MaxBytes;
        if (_pending.Length > 0 && _pending.Length + length > Math.Max(bound, 2 * length))
        {
            if (_behindLog.Due())
            {
                Log.Behind(_logger, _pending.Length, _memory.MaxBytes);
            }

            return false;
        }

        return true;
    }

    /// <summary>
    /// The budget is spent: said once a minute at most; and a reader lingering for more records is woken to cut its
    /// batch now, since none can come until a batch is stored and segments are deleted. Under the gate.
    /// </summary>
    private void OnFull()
    {
        if (_fullLog.Due())
        {
            Log.Full(_logger, _diskBytes, _budget, _options.MaxBytes);
        }

        if (!_full)
        {
            _full = true;
            WakeReader();
        }
    }

    private void Append(IngestItem item, Span<byte> record)
    {
        var sequence = _nextSequence++;
        RecordCodec.Seal(record, sequence);
        var receipt = item.Receipt;
        if (receipt is not null)
        {
            item.Receipt = null; // told when the record is durable; the writer that stores the item must not tell it again
        }

        var wasEmpty = _pending.Count == 0;
        _pending.Add(record, sequence, receipt, receipt is null ? null : item);
        _diskBytes += record.Length;
        _messages++;
        _bytes += item.Size;
        if (_attached && _cache.Count < _memory.MaxMessages && _cacheBytes + item.Size <= _memory.MaxBytes)
        {
            _cache.Enqueue((sequence, item));
            _cacheBytes += item.Size;
        }
        else
        {
            _attached = false;
        }

        _stats.OnAccepted(item.Transport, item.Size);
        if (wasEmpty)
        {
            FlushSignal.Writer.TryWrite(true);
        }
    }

    private void ThrowIfClosed()
    {
        if (_completed)
        {
            throw new InvalidOperationException("The spill log is complete: no source may write to it.");
        }

        if (_failure is { } failure)
        {
            throw new InvalidOperationException($"The spill log has failed: {failure}");
        }
    }

    // ---- the flusher's side ----

    /// <summary>Hands the flusher the records appended since it last took them, or null when there are none.</summary>
    public PendingRecords? TakePending()
    {
        TaskCompletionSource? room;
        PendingRecords taken;
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                return null;
            }

            taken = _pending;
            _pending = _spare;
            _spare = null!;
            (room, _roomWaiter) = (_roomWaiter, null); // a write may be waiting for the disk to catch up
        }

        room?.TrySetResult();
        return taken;
    }

    /// <summary>The flusher is done with the records it took; their buffer is its spare again.</summary>
    public void Release(PendingRecords taken)
    {
        taken.Clear();
        lock (_gate)
        {
            _spare = taken;
        }
    }

    /// <summary>Records [0, <paramref name="end"/>) of <paramref name="taken"/> are in their segment: readers may have them.</summary>
    public void OnWritten(PendingRecords taken, int end, long bytes)
    {
        lock (_gate)
        {
            _written = end < taken.Count ? taken[end].Sequence : FirstUnwritten();
            _writtenBytes += bytes;
            WakeReader();
        }
    }

    /// <summary>The records [0, <paramref name="count"/>) are durable under the fsync policy: their senders hear so.</summary>
    public static void OnDurable(PendingRecords taken, int count)
    {
        for (var i = 0; i < count; i++)
        {
            taken[i].Receipt?.OnStored();
        }
    }

    /// <summary>
    /// The disk refused to write the records from <paramref name="from"/> on (its segment is rolled back to the last
    /// record boundary). The records of requests whose senders wait to hear, among them and those appended since, are
    /// given back when all of a request is there: its sender is told that nothing of it was kept (HTTP answers 503),
    /// and they are counted as dropped. The others (from senders that cannot be told, TCP, and of requests already
    /// written in part) stay, to be written when the disk takes writes again. Until then nothing more is admitted.
    /// </summary>
    public void Refuse(PendingRecords taken, int from, Exception fault)
    {
        var givenBack = new List<PendingRecords.Entry>();
        var kept = new PendingRecords();
        var reason = SpillErrors.Classify(fault) == SpillFault.Full
            ? "the disk of the spill log is full: " + fault.Message
            : "the spill log could not write: " + fault.Message;
        lock (_gate)
        {
            // A request is given back only whole: when every one of its records is here, none written yet. One
            // written in part (an HTTP request that waits for room writes its messages one by one) waits, as TCP does.
            var counts = new Dictionary<Receipt, int>(ReferenceEqualityComparer.Instance);
            taken.CountReceipts(from, counts);
            _pending.CountReceipts(0, counts);
            bool Whole(Receipt receipt) => counts[receipt] == receipt.Items;
            kept.AddKept(taken, from, Whole, givenBack);
            kept.AddKept(_pending, 0, Whole, givenBack);
            _pending = kept;
            if (givenBack.Count > 0)
            {
                var gone = new HashSet<long>(givenBack.Select(e => e.Sequence));
                if (_cache.Any(c => gone.Contains(c.Sequence)))
                {
                    var stay = _cache.Where(c => !gone.Contains(c.Sequence)).ToList();
                    _cache.Clear();
                    _cacheBytes = 0;
                    foreach (var entry in stay)
                    {
                        _cache.Enqueue(entry);
                        _cacheBytes += entry.Item.Size;
                    }
                }

                foreach (var entry in givenBack)
                {
                    _diskBytes -= entry.Length;
                    _messages--;
                    _bytes -= entry.Item!.Size;
                    _stats.OnGivenBack(entry.Item.Transport);
                }

                _givenBack += givenBack.Count;
            }

            _written = FirstUnwritten();
            _refusal ??= reason;
            _refusingSince ??= _time.GetUtcNow();
            if (_refusalLog.Due())
            {
                Log.Refusing(_logger, _options.Directory, reason, givenBack.Count, _pending.Count);
            }

            WakeReader(); // what was given back no longer holds the reader up, and a lingering batch is cut now
        }

        var error = new IngestRefusedException($"{reason}; nothing of these messages was kept, send them again later", fault);
        foreach (var receipt in givenBack.Select(e => e.Receipt).Distinct())
        {
            receipt!.Fail(error);
        }

        taken.Clear();
    }

    /// <summary>The disk takes writes again: admission resumes.</summary>
    public void Resume()
    {
        TaskCompletionSource? room;
        lock (_gate)
        {
            if (_refusal is null)
            {
                return;
            }

            var duration = _time.GetUtcNow() - _refusingSince!.Value;
            Log.Resumed(_logger, _options.Directory, duration);
            _refusal = null;
            _refusingSince = null;
            _refusalLog.Reset();
            (room, _roomWaiter) = (_roomWaiter, null);
        }

        room?.TrySetResult();
    }

    /// <summary>Segments holding <paramref name="freed"/> bytes were deleted: writes waiting for room may fit.</summary>
    public void OnDeleted(long freed)
    {
        TaskCompletionSource? room;
        lock (_gate)
        {
            _diskBytes -= freed;
            _full = false;
            (room, _roomWaiter) = (_roomWaiter, null);
        }

        room?.TrySetResult();
    }

    /// <summary>Sets the budget in force and the segment size that follows from it.</summary>
    public void SetBudget(long budget)
    {
        TaskCompletionSource? room = null;
        lock (_gate)
        {
            if (budget > _budget)
            {
                _full = false;
                (room, _roomWaiter) = (_roomWaiter, null);
            }

            _budget = budget;
            _segmentBytes = _options.SegmentBytesFor(budget);
        }

        room?.TrySetResult();
    }

    /// <summary>
    /// Nothing more can be made durable: every sender still waiting hears so, writes are refused from now on, and the
    /// service (which watches <see cref="Faulted"/>) stops.
    /// </summary>
    public void Fail(Exception exception, PendingRecords? inHand)
    {
        if (Interlocked.CompareExchange(ref _failure, exception.Message, null) is not null)
        {
            return; // failed already: said once
        }

        var receipts = new List<Receipt>();
        var unwritten = 0;
        TaskCompletionSource? data, room;
        lock (_gate)
        {
            foreach (var records in new[] { inHand, _pending })
            {
                for (var i = 0; records is not null && i < records.Count; i++)
                {
                    unwritten++;
                    if (records[i].Receipt is { } receipt)
                    {
                        receipts.Add(receipt);
                    }
                }
            }

            (data, _dataWaiter) = (_dataWaiter, null);
            (room, _roomWaiter) = (_roomWaiter, null);
        }

        Log.Failed(_logger, exception, _options.Directory, exception.Message, unwritten, receipts.Count);

        foreach (var receipt in receipts.Distinct())
        {
            receipt.Fail(exception);
        }

        data?.TrySetResult();
        room?.TrySetResult();
        _faulted.TrySetResult();
    }

    private long FirstUnwritten() => _pending.Count > 0 ? _pending[0].Sequence : _nextSequence;

    // ---- the reader's side ----

    /// <summary>What <see cref="TryTakeFromMemory"/> found.</summary>
    public enum Next
    {
        /// <summary>A record from the memory copy.</summary>
        Taken,

        /// <summary>Nothing in memory: read the segment files up to the position given.</summary>
        ReadDisk,

        /// <summary>The reader is at the tail: nothing to read until more is written.</summary>
        Nothing,
    }

    /// <summary>The next record after <paramref name="lastRead"/> from the memory copy, or where to read it from instead.</summary>
    public Next TryTakeFromMemory(long lastRead, out long sequence, out IngestItem item, out long written)
    {
        lock (_gate)
        {
            written = _written;
            if (_cache.TryPeek(out var head))
            {
                if (head.Sequence >= _written)
                {
                    (sequence, item) = (0, null!);
                    return Next.Nothing; // in memory, not yet on disk
                }

                _cache.Dequeue();
                _cacheBytes -= head.Item.Size;
                (sequence, item) = head;
                return Next.Taken;
            }

            (sequence, item) = (0, null!);
            if (_attached)
            {
                return Next.Nothing;
            }

            if (lastRead + 1 >= _written && _written == _nextSequence)
            {
                // Caught up with everything appended: from now on, new records are kept in memory too.
                _attached = true;
                return Next.Nothing;
            }

            return Next.ReadDisk;
        }
    }

    /// <summary>
    /// Whether there may be something to read after <paramref name="lastRead"/>: true with no <paramref name="wait"/>
    /// when there may be now, true with a task that completes when there may be, false when nothing more will ever
    /// come (complete and drained, or failed).
    /// </summary>
    public bool WaitForData(long lastRead, out Task? wait)
    {
        wait = null;
        lock (_gate)
        {
            if (_cache.TryPeek(out var head))
            {
                if (head.Sequence < _written)
                {
                    return true;
                }
            }
            else if (!_attached && (_written > lastRead + 1 || (_written == _nextSequence && lastRead + 1 >= _nextSequence)))
            {
                return true; // on disk to read, or caught up (the next read attaches to the memory copy)
            }

            if (_completed && (_failure is not null || (_written == _nextSequence && _cache.Count == 0 && (_attached || lastRead + 1 >= _written))))
            {
                return false;
            }

            _dataWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _dataWaiter.Task;
            return true;
        }
    }

    /// <summary>True while no more records can come until some are stored (the budget spent, or the disk refusing).</summary>
    public bool IsFull
    {
        get
        {
            lock (_gate)
            {
                return _full || _refusal is not null;
            }
        }
    }

    /// <summary>A batch was cut from the records <paramref name="cut"/> names.</summary>
    public void Register(Batch batch, Cut cut)
    {
        lock (_gate)
        {
            _byBatch[batch] = _inFlight.AddLast(new InFlight(cut));
        }
    }

    /// <summary>A cut taken before the stop whose records are gone: done at once.</summary>
    public void RegisterEmpty(Cut cut)
    {
        lock (_gate)
        {
            _inFlight.AddLast(new InFlight(cut) { Done = true });
            CommitDone();
        }
    }

    /// <summary>The sink stored the batch: its capacity is given back, and the checkpoint may pass it.</summary>
    public void Commit(Batch batch)
    {
        lock (_gate)
        {
            if (!_byBatch.Remove(batch, out var node))
            {
                throw new InvalidOperationException("Commit of a batch this spill log did not hand out.");
            }

            node.Value.Done = true;
            CommitDone();
            _messages -= batch.Count;
            _bytes -= batch.Bytes;
        }

        FlushSignal.Writer.TryWrite(true); // the flusher persists the checkpoint
    }

    private void CommitDone()
    {
        while (_inFlight.First is { Value.Done: true } first)
        {
            _committedNext = first.Value.Cut.Last + 1;
            _inFlight.RemoveFirst();
        }
    }

    private void WakeReader()
    {
        if (_dataWaiter is { } waiter)
        {
            _dataWaiter = null;
            waiter.TrySetResult();
        }
    }

    private sealed class InFlight(Cut cut)
    {
        public Cut Cut { get; } = cut;

        public bool Done { get; set; }
    }
}
