using Spillway.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Spillway.Spill;

/// <summary>
/// The one task that writes: it takes the records appended, writes them to the active segment (beginning a new one
/// when it is full), fsyncs under the policy, tells the senders waiting to hear, persists the checkpoint, deletes the
/// segments wholly stored, and keeps the budget within the free space of the filesystem.
/// </summary>
/// <remarks>
/// A write the disk refuses for lack of space or of descriptors is rolled back to the last whole record, the records
/// whose senders wait are given back to them, and admission stops until a retry (with backoff, or as soon as segments
/// are freed) succeeds: nothing is kept that a sender was told was not. Only a fault that means the disk cannot be
/// trusted (an I/O error, a failed fsync, a write that cannot be rolled back) fails the log.
/// </remarks>
internal sealed class Flusher : IAsyncDisposable
{
    private static readonly TimeSpan BudgetInterval = TimeSpan.FromSeconds(1);

    /// <summary>Room kept free on the filesystem for the checkpoint, the journal and the quarantine.</summary>
    private const long Reserve = 256 * 1024;

    private const long MinBudget = 64 * 1024;

    private readonly SpillOptions _options;
    private readonly LogState _state;
    private readonly SegmentSet _segments;
    private readonly CheckpointStore _checkpoints;
    private readonly CutJournal _journal;
    private readonly ISpillFileSystem _files;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private PendingRecords? _inHand;
    private long _lastFsync;
    private long? _budgetCheckedAt;
    private readonly LogPacer _cappedLog;
    private readonly LogPacer _housekeepingLog;
    private readonly RetryDelay _retry = new();
    private bool _housekeepingBehind;

    public Flusher(SpillOptions options, LogState state, SegmentSet segments, CheckpointStore checkpoints, CutJournal journal,
        ISpillFileSystem files, TimeProvider time, ILogger logger)
    {
        _options = options;
        _state = state;
        _segments = segments;
        _checkpoints = checkpoints;
        _journal = journal;
        _files = files;
        _time = time;
        _logger = logger;
        _lastFsync = time.GetTimestamp();
        _cappedLog = new LogPacer(time);
        _housekeepingLog = new LogPacer(time);
    }

    /// <summary>A test's hold on the flusher between writing records and persisting the checkpoint, where a commit can land.</summary>
    public Func<Task>? BeforeCheckpoint { get; set; }

    /// <summary>Sets the budget from the free space now, and starts writing.</summary>
    public void Start(long nextSequence)
    {
        UpdateBudget(force: true);
        try
        {
            // The segment appended to is opened now, so that writing needs no new descriptor until it is full: a
            // process that runs out of them goes on logging what its open connections send.
            _segments.Active(nextSequence, _state.SegmentBytes, _options.Fsync != SpillFsync.Never);
        }
        catch (IOException ex) when (SpillErrors.IsPassing(ex))
        {
            // Opened at the first write, which is refused (and retried) while this lasts.
        }

        _loop = Task.Run(RunAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        finally
        {
            _stop.Dispose();
        }
    }

    private async Task RunAsync()
    {
        var signal = _state.FlushSignal.Reader;
        var stopping = _stop.Token;
        try
        {
            while (true)
            {
                var wait = _state.Refusing || _housekeepingBehind ? _retry.Current
                    : _options.Fsync == SpillFsync.Interval && _segments.Unsynced ? _options.FsyncInterval
                    : Timeout.InfiniteTimeSpan;
                try
                {
                    using var timeout = new CancellationTokenSource(wait, _time);
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
                    await signal.ReadAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Stopping, or time to retry or to fsync: either way, flush below.
                }

                Flush();
                if (BeforeCheckpoint is { } pause)
                {
                    await pause().ConfigureAwait(false);
                }

                Housekeep(final: false);
                if (stopping.IsCancellationRequested)
                {
                    Flush();
                    if (_options.Fsync != SpillFsync.Never)
                    {
                        _segments.Sync();
                    }

                    Housekeep(final: true);
                    return;
                }
            }
        }
        catch (Exception ex)
        {
            // A disk that cannot be trusted with what it was given, or a fault of this code: nothing more can be made
            // durable. Said once, and the service stops (it watches Faulted).
            _state.Fail(ex, _inHand);
        }
    }

    /// <summary>Writes the records appended, tells their senders once durable, and rolls back what the disk refuses.</summary>
    private void Flush()
    {
        var taken = _state.TakePending();
        if (taken is null)
        {
            if (_state.Refusing)
            {
                Probe();
            }

            return;
        }

        _inHand = taken;
        var segmentBytes = _state.SegmentBytes;
        var sync = _options.Fsync != SpillFsync.Never;
        var done = 0;
        long doneBytes = 0;
        (Segment Segment, ISpillFile File, long Length)? unsynced = null;
        Exception? fault = null;
        while (done < taken.Count)
        {
            Segment segment;
            ISpillFile file;
            try
            {
                (segment, file) = _segments.Active(taken[done].Sequence, segmentBytes, sync);
            }
            catch (IOException ex) when (SpillErrors.IsPassing(ex))
            {
                fault = ex;
                break;
            }

            if (unsynced?.Segment != segment)
            {
                unsynced = (segment, file, segment.Length);
            }

            var end = ChunkEnd(taken, done, segment.Length, segmentBytes);
            var offset = taken[done].Offset;
            var length = taken[end - 1].Offset + taken[end - 1].Length - offset;
            try
            {
                file.Write(taken.Bytes(offset, length), segment.Length);
            }
            catch (IOException ex) when (SpillErrors.IsPassing(ex))
            {
                RollBack(file, segment, segment.Length, ex);
                fault = ex;
                break;
            }

            _segments.Unsynced = true;
            _segments.Grow(segment, length);
            doneBytes += length;
            done = end;
        }

        if (done > 0)
        {
            if (_options.Fsync == SpillFsync.Batch
                || (_options.Fsync == SpillFsync.Interval && _time.GetElapsedTime(_lastFsync) >= _options.FsyncInterval))
            {
                try
                {
                    _segments.Sync();
                }
                catch (IOException ex) when (_options.Fsync == SpillFsync.Batch && unsynced is { } written)
                {
                    // What the kernel held may be gone, so the log fails; the records of this write, whose senders
                    // are told they were not kept, are cut off where the file still lets itself be cut.
                    RollBack(written.File, written.Segment, written.Length, ex);
                    throw;
                }

                _lastFsync = _time.GetTimestamp();
            }

            // Readers may have them only now: under --spill-fsync batch, never a record that is not yet on the disk.
            _state.OnWritten(taken, done, doneBytes);

            // Durable under the policy: written and fsynced (batch), or in the kernel's hands (interval, never).
            LogState.OnDurable(taken, done);
        }

        _inHand = null;
        if (fault is not null)
        {
            _state.Refuse(taken, done, fault);
            _state.Release(taken);
            _retry.Lengthen();
            return;
        }

        _state.Release(taken);
        if (_state.Refusing)
        {
            Resume();
        }
    }

    /// <summary>
    /// The records [<paramref name="from"/>, end) written in one go: up to the segment's size, and never splitting the
    /// records of one sender's request (so that a refused write gives back all of a request or none of it).
    /// </summary>
    private static int ChunkEnd(PendingRecords taken, int from, long segmentLength, long segmentBytes)
    {
        var end = from;
        long size = 0;
        do
        {
            size += taken[end].Length;
            end++;
        }
        while (end < taken.Count
               && (segmentLength + size < segmentBytes
                   || (taken[end].Receipt is { } receipt && ReferenceEquals(receipt, taken[end - 1].Receipt))));

        return end;
    }

    /// <summary>Cuts the segment back to <paramref name="length"/>, a record boundary; if even that fails, the log cannot be trusted.</summary>
    private static void RollBack(ISpillFile file, Segment segment, long length, IOException fault)
    {
        try
        {
            file.SetLength(length);
        }
        catch (Exception ex)
        {
            throw new IOException(
                $"a write to {segment.Path} failed ({fault.Message}) and what it left could not be cut off ({ex.Message}): " +
                "the log cannot tell which records it holds", ex);
        }
    }

    /// <summary>With nothing to write, finds out whether the disk would take writes again.</summary>
    private void Probe()
    {
        try
        {
            var free = _files.AvailableBytes(_options.Directory);
            if (free is { } bytes && bytes < Math.Min(1024 * 1024, _state.SegmentBytes))
            {
                throw new IOException($"{bytes} bytes free on the filesystem", SpillErrors.ENOSPC);
            }

            using (_files.OpenDirectory(_options.Directory, out _))
            {
                // A descriptor could be had.
            }

            Resume();
        }
        catch (IOException ex) when (SpillErrors.IsPassing(ex))
        {
            _retry.Lengthen();
        }
    }

    private void Resume()
    {
        _retry.Reset();
        _state.Resume();
    }

    /// <summary>
    /// Persists the checkpoint if it moved, compacts the journal, deletes the segments wholly stored (all of them on a
    /// clean stop), and keeps the budget to the free space. What fails for a passing reason is tried again shortly.
    /// </summary>
    private void Housekeep(bool final)
    {
        try
        {
            var committed = _state.CommittedNext;
            if (committed > _checkpoints.Persisted.Next)
            {
                _checkpoints.Write(committed);
            }

            // Keep what the older checkpoint copy still needs, so a fall back to it is as exact as the newer.
            _journal.CompactIfLarge(_checkpoints.Older?.Next ?? _checkpoints.Persisted.Next);
            // The active segment too once all of it is stored, if the log stops, or the segment is full (it is done
            // with), or the budget is spent (it is all the log has to give back).
            var activeDone = _state.AllStored && (final || _segments.ActiveLength >= _state.SegmentBytes || _state.IsFull);
            var freed = _segments.DeleteBefore(_checkpoints.Persisted.Next, includingActive: activeDone);
            if (freed > 0)
            {
                _state.OnDeleted(freed);
                _retry.Reset(); // space given back: a refused write may go now
            }

            UpdateBudget(force: freed > 0);
            _housekeepingBehind = false;
        }
        catch (IOException ex) when (SpillErrors.IsPassing(ex))
        {
            _housekeepingBehind = true;
            _retry.Lengthen();
            if (_housekeepingLog.Due())
            {
                Log.HousekeepingBehind(_logger, _options.Directory, ex.Message);
            }
        }
    }

    /// <summary>Caps the budget by what the filesystem can still hold (checked once a second, or when forced).</summary>
    private void UpdateBudget(bool force)
    {
        if (!force && _budgetCheckedAt is { } at && _time.GetElapsedTime(at) < BudgetInterval)
        {
            return;
        }

        _budgetCheckedAt = _time.GetTimestamp();
        var free = _files.AvailableBytes(_options.Directory);
        var budget = free is { } bytes
            ? Math.Clamp(_segments.Bytes + bytes - Reserve, MinBudget, _options.MaxBytes)
            : _options.MaxBytes;
        var before = _state.Budget;
        _state.SetBudget(budget);
        if (budget < _options.MaxBytes && (budget < before * 9 / 10 || before == _options.MaxBytes) && _cappedLog.Due())
        {
            Log.BudgetCapped(_logger, _options.Directory, _options.MaxBytes, free!.Value, budget, _state.SegmentBytes);
        }
    }
}
