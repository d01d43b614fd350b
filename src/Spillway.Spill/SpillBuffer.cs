using System.Buffers.Binary;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Spill;

/// <summary>
/// The crash-safe buffer: every item a source hands in is appended to a log of checksummed records on disk before it
/// counts as accepted, and stays there until the sink has stored it. Writers take batches as contiguous runs of the
/// log, each journalled (a cut) before it goes to the sink, so that after a crash the same runs are taken again under
/// the same batch ids and the sink's ledger stores none of them twice. A checkpoint, advanced after each commit, says
/// where replay starts; segment files wholly before it are deleted.
/// </summary>
/// <remarks>
/// <para>The fast path stays in memory: while the writers keep up, the items appended are also kept (up to the
/// in-memory bounds) and handed to them from there; only when the writers fall behind do they read the log back from
/// disk. Either way the records are on disk first.</para>
/// <para>The bound is the disk budget (<see cref="SpillOptions.MaxBytes"/>): within it sources never wait, so a
/// database outage fills the disk instead of pushing back on senders. A receipt is told once its item is durable
/// under the fsync policy, not once stored: HTTP answers then.</para>
/// </remarks>
public sealed class SpillBuffer : IIngestBuffer, IAsyncDisposable, IDisposable
{
    private const int CompactCutsAbove = 1 << 20;
    private static readonly TimeSpan WarnInterval = TimeSpan.FromMinutes(1);

    private readonly SpillOptions _options;
    private readonly IngestStats _stats;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly FileStream _lock;
    private readonly Lock _gate = new();
    private readonly List<Segment> _segments;
    private readonly Channel<bool> _flushSignal = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly SemaphoreSlim _takeLock = new(1, 1);
    private readonly Task _flusher;
    private readonly CancellationTokenSource _stopFlusher = new();

    // Appended and not yet written to the file: whole records, in sequence order. Guarded by _gate.
    private byte[] _pending = new byte[1024 * 1024];
    private byte[] _spare = new byte[1024 * 1024];
    private int _pendingLength;
    private readonly Queue<(long Sequence, Receipt Receipt)> _receipts = new();

    // The in-memory copy of the newest records, for writers that keep up. Guarded by _gate.
    private readonly Queue<IngestItem> _cache = new();
    private long _cacheFirst;
    private long _cacheBytes;
    private bool _attached;

    // Counters and positions guarded by _gate.
    private long _nextSequence;
    private long _writtenNext; // every record before it is written to its segment file
    private long _diskBytes;
    private long _messages;
    private long _bytes;
    private bool _completed;
    private bool _full; // a write found no room since segments were last deleted
    private long? _fullLoggedAt; // when "full" and "behind" were last logged
    private long? _behindLoggedAt;
    private TaskCompletionSource? _dataWaiter;
    private TaskCompletionSource? _roomWaiter;

    // Cuts taken and not yet committed, in order; the checkpoint advances past the done ones at the front. Guarded by _gate.
    private readonly LinkedList<InFlight> _inFlight = new();
    private readonly Dictionary<Batch, LinkedListNode<InFlight>> _byBatch = new(ReferenceEqualityComparer.Instance);
    private long _committedNext;

    // The reading side, owned by whoever holds _takeLock.
    private readonly Queue<Cut> _forcedCuts;
    private long _cutFrom;
    private long _lastRead;
    private (long Sequence, IngestItem Item)? _peeked;
    private SegmentReader? _cursor;

    // The journal of cuts, appended by the reading side and compacted by the flusher.
    private readonly Lock _journalLock = new();
    private readonly List<Cut> _journal;
    private SafeFileHandle _journalHandle;
    private long _journalLength;

    // The flusher's own.
    private SafeFileHandle? _active;
    private Checkpoint _persisted;
    private Checkpoint? _olderPersisted;
    private long _lastFsync;
    private bool _unsynced;

    private long _writtenBytes;
    private long _quarantinedRegions;
    private long _quarantinedBytes;
    private volatile string? _failure;
    private int _disposed;

    private SpillBuffer(SpillOptions options, IngestBufferOptions memory, IngestStats stats, TimeProvider time, ILogger logger,
        FileStream lockFile, Recovered recovered)
    {
        _options = options;
        Options = memory;
        _stats = stats;
        _time = time;
        _logger = logger;
        _lock = lockFile;
        _segments = recovered.Segments;
        _persisted = recovered.Checkpoint;
        _olderPersisted = recovered.OlderCheckpoint;
        _committedNext = recovered.Checkpoint.Next;
        _cutFrom = recovered.Checkpoint.Next;
        _lastRead = recovered.Checkpoint.Next - 1;
        _nextSequence = recovered.NextSequence;
        _writtenNext = recovered.NextSequence;
        _cacheFirst = recovered.NextSequence;
        _diskBytes = _segments.Sum(s => s.Length);
        _messages = recovered.ReplayRecords;
        _bytes = recovered.ReplayBytes;
        _forcedCuts = new Queue<Cut>(recovered.Cuts);
        _journal = [.. recovered.Cuts];
        Replayed = recovered.ReplayRecords;
        _quarantinedRegions = recovered.QuarantinedRegions;
        _quarantinedBytes = recovered.QuarantinedBytes;
        TruncatedBytes = recovered.TruncatedBytes;

        // The journal starts afresh with the cuts still to be taken again.
        SpillFiles.RewriteCuts(options.Directory, _journal);
        _journalHandle = OpenJournal(out _journalLength);
        _lastFsync = time.GetTimestamp();
        _flusher = Task.Run(FlushLoopAsync);
    }

    /// <summary>
    /// Opens (creating if missing) and recovers the spill directory, and starts writing. Never refuses a damaged log:
    /// it repairs it, quarantines what it cannot read and says so in the log.
    /// </summary>
    /// <exception cref="SpillUnavailableException">The directory cannot be created or written, or another process holds it.</exception>
    public static SpillBuffer Open(SpillOptions options, IngestBufferOptions memory, IngestStats stats, TimeProvider time, ILogger<SpillBuffer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        memory.Validate();
        FileStream? lockFile = null;
        try
        {
            Directory.CreateDirectory(options.Directory);
            try
            {
                lockFile = SpillFiles.Lock(options.Directory);
            }
            catch (IOException ex)
            {
                throw new SpillUnavailableException(
                    $"cannot open the spill log '{options.Directory}': another process holds it ({ex.Message})", ex);
            }

            var recovered = Recovery.Run(options.Directory, logger);
            stats.OnReplayed(recovered.ReplayRecords);
            Log.Opened(logger, options.Directory, recovered.ReplayRecords, recovered.ReplayBytes, recovered.Checkpoint.Next, recovered.NextSequence);
            return new SpillBuffer(options, memory, stats, time, logger, lockFile, recovered);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            lockFile?.Dispose();
            throw new SpillUnavailableException($"cannot open the spill log '{options.Directory}': {ex.Message}", ex);
        }
        catch
        {
            lockFile?.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public IngestBufferOptions Options { get; }

    /// <summary>The disk settings.</summary>
    public SpillOptions SpillOptions => _options;

    /// <inheritdoc />
    public long Messages => Interlocked.Read(ref _messages);

    /// <inheritdoc />
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Bytes of segment files (and records about to be written to them) on disk now.</summary>
    public long DiskBytes => Interlocked.Read(ref _diskBytes);

    /// <summary>Bytes of records written to segment files since the start.</summary>
    public long WrittenBytes => Interlocked.Read(ref _writtenBytes);

    /// <summary>Records found at the start, from before it, to be stored.</summary>
    public long Replayed { get; }

    /// <summary>Damaged regions moved to the quarantine (at the start, or found while reading).</summary>
    public long QuarantinedRegions => Interlocked.Read(ref _quarantinedRegions);

    /// <summary>Bytes moved to the quarantine.</summary>
    public long QuarantinedBytes => Interlocked.Read(ref _quarantinedBytes);

    /// <summary>Bytes of a torn last write cut off at the start (and kept in the quarantine).</summary>
    public long TruncatedBytes { get; }

    /// <summary>
    /// One line for the end of a run: bytes written to the log, bytes of it on disk now, messages in it not yet
    /// stored (0 after a drain; those of a forced stop, stored at the next start), and the damage found.
    /// </summary>
    public string Summary() =>
        string.Create(CultureInfo.InvariantCulture,
            $"spill: written_bytes={WrittenBytes} disk_bytes={DiskBytes} unstored={Messages} " +
            $"quarantined={QuarantinedRegions} quarantined_bytes={QuarantinedBytes} truncated_bytes={TruncatedBytes}");

    /// <summary>Why the log stopped working, or null while it works.</summary>
    public string? Failure => _failure;

    /// <summary>Completes when the log has failed (it then refuses all writes); never while it works.</summary>
    public Task Faulted => _faulted.Task;

    private readonly TaskCompletionSource _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A test's hold on the flusher between writing records and persisting the checkpoint, where a commit can land.</summary>
    internal Func<Task>? BeforeCheckpoint { get; set; }

    [ThreadStatic]
    private static byte[]? t_scratch;

    /// <inheritdoc />
    public async ValueTask WriteAsync(IngestItem item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        var scratch = t_scratch ??= new byte[4096];
        var length = RecordCodec.Encode(item, ref scratch);
        t_scratch = scratch;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Task room;
            lock (_gate)
            {
                ThrowIfClosed();
                if (HasRoom(length))
                {
                    Append(item, scratch.AsSpan(0, length));
                    return;
                }

                _roomWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                room = _roomWaiter.Task;
            }

            // The encoded record may be overwritten by another item on this thread meanwhile: encode again after.
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            scratch = t_scratch ??= new byte[4096];
            length = RecordCodec.Encode(item, ref scratch);
            t_scratch = scratch;
        }
    }

    /// <inheritdoc />
    public bool TryWrite(IngestItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var scratch = t_scratch ??= new byte[4096];
        var length = RecordCodec.Encode(item, ref scratch);
        t_scratch = scratch;
        lock (_gate)
        {
            ThrowIfClosed();
            if (!HasRoom(length))
            {
                return false;
            }

            Append(item, scratch.AsSpan(0, length));
            return true;
        }
    }

    /// <inheritdoc />
    public bool TryWriteAll(IReadOnlyList<IngestItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var encoded = new byte[items.Count][];
        long total = 0;
        for (var i = 0; i < items.Count; i++)
        {
            var scratch = new byte[256];
            var length = RecordCodec.Encode(items[i], ref scratch);
            Array.Resize(ref scratch, length);
            encoded[i] = scratch;
            total += length;
        }

        lock (_gate)
        {
            ThrowIfClosed();
            if (!HasRoom(total))
            {
                return false;
            }

            for (var i = 0; i < items.Count; i++)
            {
                Append(items[i], encoded[i]);
            }

            return true;
        }
    }

    /// <inheritdoc />
    public bool CouldEverHold(int items, long bytes) =>
        bytes + ((long)items * (RecordCodec.HeaderLength + 64)) <= _options.MaxBytes;

    /// <inheritdoc />
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
            data = _dataWaiter;
            room = _roomWaiter;
            _dataWaiter = null;
            _roomWaiter = null;
        }

        data?.TrySetResult();
        room?.TrySetResult(); // the waiting writes find the buffer completed and throw
        _flushSignal.Writer.TryWrite(true);
    }

    /// <inheritdoc />
    public async ValueTask<bool> TakeAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(time);
        await _takeLock.WaitAsync(abort).ConfigureAwait(false);
        try
        {
            while (true)
            {
                if (!await FillAsync(batch, limits, time, abort).ConfigureAwait(false))
                {
                    return false;
                }

                if (batch.Count != 0)
                {
                    return true;
                }
            }
        }
        finally
        {
            _takeLock.Release();
        }
    }

    /// <inheritdoc />
    public void Commit(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
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

        _flushSignal.Writer.TryWrite(true); // the flusher persists the checkpoint
    }

    /// <summary>Writes what is pending, persists the checkpoint and closes the files. Call after the writers have stopped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Complete();
        await _stopFlusher.CancelAsync().ConfigureAwait(false);
        try
        {
            await _flusher.ConfigureAwait(false);
        }
        finally
        {
            _cursor?.Dispose();
            _active?.Dispose();
            _journalHandle.Dispose();
            await _lock.DisposeAsync().ConfigureAwait(false);
            _stopFlusher.Dispose();
            _takeLock.Dispose();
        }
    }

    /// <summary>As <see cref="DisposeAsync"/>, for a container that disposes synchronously.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// True when records of <paramref name="length"/> bytes fit: within the disk budget, and, while the disk is behind,
    /// within the memory bound for records not yet written (else a slow disk would let them grow up to the disk
    /// budget in memory). When they do not fit, says so and returns false. Under <see cref="_gate"/>.
    /// </summary>
    private bool HasRoom(long length)
    {
        if (_diskBytes > 0 && _diskBytes + length > _options.MaxBytes)
        {
            OnFull();
            return false;
        }

        if (_pendingLength > 0 && _pendingLength + length > Options.MaxBytes)
        {
            if (DueToWarn(ref _behindLoggedAt))
            {
                Log.Behind(_logger, _pendingLength, Options.MaxBytes);
            }

            return false;
        }

        return true;
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

    /// <summary>
    /// A write found no room. Said once a minute at most, however often the log fills and frees; and a writer lingering
    /// for more records is woken to cut its batch now, since none can come until a batch is stored and segments are
    /// deleted (a budget smaller than a batch would otherwise cost a linger per batch). Under <see cref="_gate"/>.
    /// </summary>
    private void OnFull()
    {
        if (DueToWarn(ref _fullLoggedAt))
        {
            Log.Full(_logger, _diskBytes, _options.MaxBytes);
        }

        if (!_full)
        {
            _full = true;
            if (_dataWaiter is { } waiter)
            {
                _dataWaiter = null;
                waiter.TrySetResult();
            }
        }
    }

    /// <summary>
    /// True at most once a <see cref="WarnInterval"/> per stamp, however often its condition recurs. Under <see cref="_gate"/>.
    /// </summary>
    private bool DueToWarn(ref long? warnedAt)
    {
        if (warnedAt is { } at && _time.GetElapsedTime(at) < WarnInterval)
        {
            return false;
        }

        warnedAt = _time.GetTimestamp();
        return true;
    }

    private bool IsFull()
    {
        lock (_gate)
        {
            return _full;
        }
    }

    /// <summary>Appends an encoded record under <see cref="_gate"/>.</summary>
    private void Append(IngestItem item, Span<byte> record)
    {
        var sequence = _nextSequence++;
        RecordCodec.Seal(record, sequence);
        if (_pendingLength + record.Length > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + record.Length));
        }

        var wasEmpty = _pendingLength == 0;
        record.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += record.Length;
        _diskBytes += record.Length;
        _messages++;
        _bytes += item.Size;
        if (item.Receipt is { } receipt)
        {
            // Told when the record is durable; the writer that stores the item must not tell it again.
            item.Receipt = null;
            _receipts.Enqueue((sequence, receipt));
        }

        if (_attached && _cache.Count < Options.MaxMessages && _cacheBytes + item.Size <= Options.MaxBytes)
        {
            _cache.Enqueue(item);
            _cacheBytes += item.Size;
        }
        else
        {
            _attached = false;
        }

        _stats.OnAccepted(item.Transport, item.Size);
        if (_dataWaiter is { } waiter && _attached)
        {
            _dataWaiter = null;
            waiter.TrySetResult();
        }

        if (wasEmpty)
        {
            _flushSignal.Writer.TryWrite(true);
        }
    }

    /// <summary>Moves the checkpoint past the done cuts at the front. Under <see cref="_gate"/>.</summary>
    private void CommitDone()
    {
        while (_inFlight.First is { Value.Done: true } first)
        {
            _committedNext = first.Value.Cut.Last + 1;
            _inFlight.RemoveFirst();
        }
    }

    // ---- reading ----

    /// <summary>Fills one cut's worth of batch. False once complete and drained; an empty batch means a cut with no records left.</summary>
    private async ValueTask<bool> FillAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort)
    {
        // The first record, waiting for one if need be.
        (long Sequence, IngestItem Item) first;
        while (!TryPeek(out first))
        {
            if (_forcedCuts.TryDequeue(out var gone))
            {
                // A cut taken before the stop whose records are gone (cut off, quarantined): nothing of it to store.
                RegisterEmpty(gone);
                return true;
            }

            if (!await WaitForDataAsync(Timeout.InfiniteTimeSpan, time, abort).ConfigureAwait(false))
            {
                return false;
            }
        }

        long last;
        Guid id;
        var from = _cutFrom;
        if (_forcedCuts.TryPeek(out var cut) && first.Sequence >= cut.First)
        {
            // Taken again exactly as before the stop, under the same id: the sink's ledger knows it if it was stored.
            _forcedCuts.Dequeue();
            while (TryPeek(out var peeked) && peeked.Sequence <= cut.Last)
            {
                batch.Add(peeked.Item);
                _peeked = null;
            }

            if (batch.Count == 0)
            {
                RegisterEmpty(cut);
                return true;
            }

            from = Math.Min(from, cut.First);
            last = cut.Last;
            id = cut.Id;
        }
        else
        {
            var limit = _forcedCuts.TryPeek(out var next) ? next.First - 1 : long.MaxValue;
            var firstAt = time.GetTimestamp();
            last = from - 1;
            while (batch.Count < limits.BatchSize)
            {
                if (TryPeek(out var peeked))
                {
                    if (peeked.Sequence > limit)
                    {
                        break;
                    }

                    batch.Add(peeked.Item);
                    last = peeked.Sequence;
                    _peeked = null;
                    continue;
                }

                var remaining = limits.Linger - time.GetElapsedTime(firstAt);
                if (remaining <= TimeSpan.Zero || IsFull() || !await WaitForDataAsync(remaining, time, abort).ConfigureAwait(false))
                {
                    break;
                }
            }

            if (batch.Count == 0)
            {
                return true;
            }

            id = Guid.CreateVersion7(time.GetUtcNow());
            JournalCut(new Cut(from, last, id));
        }

        batch.Id = id;
        _cutFrom = last + 1;
        lock (_gate)
        {
            _byBatch[batch] = _inFlight.AddLast(new InFlight(new Cut(from, last, id)));
        }

        return true;
    }

    private void RegisterEmpty(Cut cut)
    {
        var taken = new Cut(Math.Min(_cutFrom, cut.First), cut.Last, cut.Id);
        _cutFrom = Math.Max(_cutFrom, cut.Last + 1);
        lock (_gate)
        {
            _inFlight.AddLast(new InFlight(taken) { Done = true });
            CommitDone();
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for something to read. False when nothing more will ever come (complete
    /// and drained) or the time passed; true when there may be something.
    /// </summary>
    private async ValueTask<bool> WaitForDataAsync(TimeSpan timeout, TimeProvider time, CancellationToken abort)
    {
        Task wait;
        lock (_gate)
        {
            if (_peeked is not null || _forcedCuts.Count > 0 || _cache.Count > 0 || (!_attached && _writtenNext > _lastRead + 1))
            {
                return true;
            }

            if (!_attached && _writtenNext == _nextSequence && _lastRead + 1 >= _nextSequence)
            {
                return true; // caught up: the next read attaches to the memory copy
            }

            if (_completed && (_failure is not null || (_attached && _writtenNext == _nextSequence)))
            {
                return false;
            }

            _dataWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _dataWaiter.Task;
        }

        try
        {
            await wait.WaitAsync(timeout, time, abort).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>The next record, from memory or disk, without taking it.</summary>
    private bool TryPeek(out (long Sequence, IngestItem Item) record)
    {
        if (_peeked is { } peeked)
        {
            record = peeked;
            return true;
        }

        if (TryReadNext(out var sequence, out var item))
        {
            _lastRead = sequence;
            _peeked = (sequence, item);
            record = (sequence, item);
            return true;
        }

        record = default;
        return false;
    }

    private bool TryReadNext(out long sequence, out IngestItem item)
    {
        sequence = 0;
        item = null!;
        long writtenNext;
        lock (_gate)
        {
            if (_cache.Count > 0 && _cacheFirst == _lastRead + 1)
            {
                item = _cache.Dequeue();
                _cacheBytes -= item.Size;
                sequence = _cacheFirst++;
                return true;
            }

            if (_attached)
            {
                return false; // at the tail
            }

            writtenNext = _writtenNext;
            if (_cache.Count == 0 && _lastRead + 1 >= _nextSequence && writtenNext == _nextSequence)
            {
                // Caught up with everything appended: from now on, new records are kept in memory too.
                _attached = true;
                _cacheFirst = _nextSequence;
                return false;
            }
        }

        return TryReadDisk(writtenNext, out sequence, out item);
    }

    /// <summary>Reads the next record after <see cref="_lastRead"/> from the segment files, up to what is written.</summary>
    private bool TryReadDisk(long writtenNext, out long sequence, out IngestItem item)
    {
        sequence = 0;
        item = null!;
        if (_lastRead + 1 >= writtenNext)
        {
            return false;
        }

        while (true)
        {
            Segment? segment;
            long limit;
            bool isLast;
            lock (_gate)
            {
                segment = _segments.LastOrDefault(s => s.First <= _lastRead + 1) ?? _segments.FirstOrDefault();
                if (_cursor is not null && _segments.Find(s => s.First == _cursor.FirstSequence) is { } current
                    && (segment is null || current.First >= segment.First))
                {
                    segment = current;
                }

                if (segment is null)
                {
                    return false;
                }

                limit = segment.Length;
                isLast = ReferenceEquals(segment, _segments[^1]);
                writtenNext = _writtenNext;
            }

            if (_cursor is null || _cursor.FirstSequence != segment.First)
            {
                _cursor?.Dispose();
                _cursor = new SegmentReader(segment.Path, segment.First);
            }

            while (true)
            {
                var outcome = _cursor.Next(limit, out sequence, out var payload, out var damageStart, out var damageLength);
                if (outcome == ReadOutcome.Record)
                {
                    if (sequence <= _lastRead)
                    {
                        continue;
                    }

                    try
                    {
                        item = RecordCodec.Decode(payload);
                        return true;
                    }
                    catch (InvalidDataException ex)
                    {
                        QuarantineAtRuntime(_cursor, _cursor.Position - payload.Length - RecordCodec.HeaderLength,
                            payload.Length + RecordCodec.HeaderLength, ex.Message);
                        continue;
                    }
                }

                if (outcome == ReadOutcome.Damage)
                {
                    QuarantineAtRuntime(_cursor, damageStart, damageLength, "not a record");
                    continue;
                }

                break; // end of what is written of this segment
            }

            if (isLast)
            {
                // Everything written has been read: numbers skipped at a restart, or records quarantined, are gone for good.
                _lastRead = Math.Max(_lastRead, writtenNext - 1);
                return false;
            }

            Segment following;
            lock (_gate)
            {
                following = _segments.Find(s => s.First > segment.First)!;
            }

            var lastSequence = _cursor.LastSequence;
            _cursor.Dispose();
            _cursor = new SegmentReader(following.Path, following.First);
            _cursor.Seek(0, Math.Max(lastSequence, following.First - 1));
        }
    }

    private void QuarantineAtRuntime(SegmentReader reader, long start, long length, string why)
    {
        var path = SpillFiles.Quarantine(_options.Directory, reader.Path, start, reader.ReadBytes(start, length));
        Interlocked.Increment(ref _quarantinedRegions);
        Interlocked.Add(ref _quarantinedBytes, length);
        Log.Damage(_logger, reader.Path, start, length, path + " (" + why + ")");
    }

    private void JournalCut(Cut cut)
    {
        Span<byte> entry = stackalloc byte[SpillFiles.CutEntryLength];
        SpillFiles.EncodeCut(cut, entry);
        lock (_journalLock)
        {
            RandomAccess.Write(_journalHandle, entry, _journalLength);
            _journalLength += entry.Length;
            if (_options.Fsync == SpillFsync.Batch)
            {
                // The cut must be on disk before its batch can be stored, or a power loss could replay it under a new id.
                RandomAccess.FlushToDisk(_journalHandle);
            }

            _journal.Add(cut);
        }
    }

    private SafeFileHandle OpenJournal(out long length)
    {
        var handle = File.OpenHandle(Path.Combine(_options.Directory, SpillFiles.CutsName), FileMode.OpenOrCreate, FileAccess.Write);
        length = RandomAccess.GetLength(handle);
        return handle;
    }

    // ---- writing ----

    private async Task FlushLoopAsync()
    {
        var reader = _flushSignal.Reader;
        var stopping = _stopFlusher.Token;
        try
        {
            while (true)
            {
                var wait = _options.Fsync == SpillFsync.Interval && _unsynced ? _options.FsyncInterval : Timeout.InfiniteTimeSpan;
                try
                {
                    using var timeout = new CancellationTokenSource(wait, _time);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
                    await reader.ReadAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopping, or time to fsync: either way, flush below.
                }

                FlushOnce();
                if (BeforeCheckpoint is { } pause)
                {
                    await pause().ConfigureAwait(false);
                }

                PersistCheckpoint();
                if (stopping.IsCancellationRequested)
                {
                    FlushOnce();
                    if (_active is not null && _unsynced && _options.Fsync != SpillFsync.Never)
                    {
                        RandomAccess.FlushToDisk(_active);
                    }

                    PersistCheckpoint();
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // A disk that cannot take writes (full, gone, read-only) or a fault of this code: either way nothing more
            // can be made durable. Said once, and the service stops (it watches Faulted).
            Fail(ex);
        }
    }

    private void Fail(Exception ex)
    {
        _failure = ex.Message;
        Log.Failed(_logger, ex, _options.Directory, ex.Message);
        List<Receipt> receipts;
        TaskCompletionSource? data, room;
        lock (_gate)
        {
            receipts = [.. _receipts.Select(r => r.Receipt)];
            _receipts.Clear();
            data = _dataWaiter;
            room = _roomWaiter;
            _dataWaiter = null;
            _roomWaiter = null;
        }

        foreach (var receipt in receipts)
        {
            receipt.Fail(ex);
        }

        data?.TrySetResult();
        room?.TrySetResult();
        _faulted.TrySetResult();
    }

    /// <summary>Writes the pending records to the active segment (rolling it when full), fsyncs per the policy, tells receipts.</summary>
    private void FlushOnce()
    {
        int length;
        long first;
        TaskCompletionSource? room = null;
        lock (_gate)
        {
            length = _pendingLength;
            first = _writtenNext;
            if (length > 0)
            {
                (_pending, _spare) = (_spare, _pending);
                _pendingLength = 0;
                room = _roomWaiter; // a write may be waiting for the disk to catch up
                _roomWaiter = null;
            }
        }

        room?.TrySetResult();

        // Written in chunks that keep each segment near its size, so that the budget is spread over segments that
        // can each be deleted once stored (one huge segment could never be).
        var offset = 0;
        var chunkFirst = first;
        while (offset < length)
        {
            var segment = ActiveSegment(chunkFirst);
            var end = offset;
            long lastSequence;
            do
            {
                lastSequence = BinaryPrimitives.ReadInt64LittleEndian(_spare.AsSpan(end + 8));
                end += RecordCodec.HeaderLength + BinaryPrimitives.ReadInt32LittleEndian(_spare.AsSpan(end));
            }
            while (end < length && segment.Length + (end - offset) < _options.EffectiveSegmentBytes);

            RandomAccess.Write(_active!, _spare.AsSpan(offset, end - offset), segment.Length);
            _unsynced = true;
            lock (_gate)
            {
                segment.Length += end - offset;
                _writtenNext = lastSequence + 1;
                _writtenBytes += end - offset;
                if (_dataWaiter is { } waiter)
                {
                    _dataWaiter = null;
                    waiter.TrySetResult();
                }
            }

            offset = end;
            chunkFirst = lastSequence + 1;
        }

        var sync = _options.Fsync switch
        {
            SpillFsync.Batch => _unsynced,
            SpillFsync.Interval => _unsynced && _time.GetElapsedTime(_lastFsync) >= _options.FsyncInterval,
            _ => false,
        };
        if (sync)
        {
            RandomAccess.FlushToDisk(_active!);
            _unsynced = false;
            _lastFsync = _time.GetTimestamp();
        }

        // Durable under the policy: written and fsynced (batch), or in the kernel's hands (interval, never).
        List<Receipt>? done = null;
        lock (_gate)
        {
            var durable = _options.Fsync == SpillFsync.Batch && _unsynced ? first : _writtenNext;
            while (_receipts.TryPeek(out var r) && r.Sequence < durable)
            {
                (done ??= []).Add(_receipts.Dequeue().Receipt);
            }
        }

        if (done is not null)
        {
            foreach (var receipt in done)
            {
                receipt.OnStored();
            }
        }
    }

    /// <summary>The segment to append records from <paramref name="first"/> to, begun anew when the current one is full.</summary>
    private Segment ActiveSegment(long first)
    {
        Segment? current;
        lock (_gate)
        {
            current = _segments.Count > 0 ? _segments[^1] : null;
        }

        if (current is not null && _active is null && current.Length < _options.EffectiveSegmentBytes)
        {
            _active = File.OpenHandle(current.Path, FileMode.Open, FileAccess.Write, FileShare.Read | FileShare.Delete);
            return current;
        }

        if (current is not null && _active is not null && current.Length < _options.EffectiveSegmentBytes)
        {
            return current;
        }

        if (_active is not null)
        {
            if (_unsynced && _options.Fsync != SpillFsync.Never)
            {
                RandomAccess.FlushToDisk(_active);
                _unsynced = false;
            }

            _active.Dispose();
        }

        var segment = new Segment(first, SpillFiles.SegmentPath(_options.Directory, first), 0);
        _active = File.OpenHandle(segment.Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete);
        SpillFiles.SyncDirectory(_options.Directory);
        lock (_gate)
        {
            _segments.Add(segment);
        }

        return segment;
    }

    /// <summary>Persists the checkpoint if it moved, deletes the segments wholly before it, compacts the journal of cuts.</summary>
    private void PersistCheckpoint()
    {
        long committed;
        lock (_gate)
        {
            committed = _committedNext;
        }

        if (committed > _persisted.Next)
        {
            var checkpoint = new Checkpoint(_persisted.Generation + 1, committed);
            SpillFiles.WriteCheckpoint(_options.Directory, checkpoint, _options.Fsync != SpillFsync.Never);
            _olderPersisted = _persisted;
            _persisted = checkpoint;
            CompactCuts();
        }

        // Also when the checkpoint did not move: writers that take from the memory copy can commit records before this
        // flusher has written them, so the checkpoint may pass records whose segment is begun only later. The segment
        // before it is freed then, or a full log would wait for room that no commit is left to make.
        DeleteStoredSegments();
    }

    /// <summary>Deletes the segments whose records all lie before the persisted checkpoint, and wakes writes waiting for room.</summary>
    private void DeleteStoredSegments()
    {
        List<Segment> deletable;
        lock (_gate)
        {
            deletable = [];
            for (var i = 0; i + 1 < _segments.Count && _segments[i + 1].First <= _persisted.Next; i++)
            {
                deletable.Add(_segments[i]);
            }
        }

        if (deletable.Count > 0)
        {
            foreach (var segment in deletable)
            {
                File.Delete(segment.Path);
            }

            TaskCompletionSource? room;
            lock (_gate)
            {
                foreach (var segment in deletable)
                {
                    _segments.Remove(segment);
                    _diskBytes -= segment.Length;
                }

                _full = false;
                room = _roomWaiter;
                _roomWaiter = null;
            }

            room?.TrySetResult();
        }
    }

    private void CompactCuts()
    {
        lock (_journalLock)
        {
            if (_journalLength > CompactCutsAbove)
            {
                // Keep what the older checkpoint copy still needs, so a fall back to it is as exact as the newer.
                var keepFrom = _olderPersisted?.Next ?? _persisted.Next;
                var kept = _journal.Where(c => c.Last >= keepFrom).ToList();
                _journalHandle.Dispose();
                SpillFiles.RewriteCuts(_options.Directory, kept);
                _journal.Clear();
                _journal.AddRange(kept);
                _journalHandle = OpenJournal(out _journalLength);
            }
        }
    }

    private sealed class InFlight(Cut cut)
    {
        public Cut Cut { get; } = cut;

        public bool Done { get; set; }
    }
}
