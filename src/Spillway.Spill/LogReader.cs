using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Spill;

/// <summary>
/// The reading side: hands writers batches as contiguous runs of the log, from the memory copy while they keep up and
/// from the segment files when they fall behind, journals each run (a cut) before it goes to the sink, and after a
/// restart takes the runs cut before it again, exactly, under the same ids. One writer reads at a time.
/// </summary>
internal sealed class LogReader : IDisposable
{
    private readonly SpillOptions _options;
    private readonly LogState _state;
    private readonly SegmentSet _segments;
    private readonly CutJournal _journal;
    private readonly ISpillFileSystem _files;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _takeLock = new(1, 1);
    private readonly Queue<Cut> _forcedCuts;
    private readonly HashSet<(string Segment, long Offset)> _quarantined;
    private long _cutFrom;
    private long _lastRead;
    private (long Sequence, IngestItem Item)? _peeked;
    private SegmentReader? _cursor;
    private long _quarantinedRegions;
    private long _quarantinedBytes;
    private IOException? _readFault;
    private readonly RetryDelay _readRetry = new();
    private readonly LogPacer _readFaultLog;
    private readonly RunFeed _run;

    public LogReader(SpillOptions options, LogState state, SegmentSet segments, CutJournal journal, ISpillFileSystem files,
        TimeProvider time, ILogger logger, Recovered recovered)
    {
        _readFaultLog = new LogPacer(time);
        _options = options;
        _state = state;
        _segments = segments;
        _journal = journal;
        _files = files;
        _logger = logger;
        _forcedCuts = new Queue<Cut>(recovered.Cuts);
        _quarantined = recovered.Quarantined;
        _cutFrom = recovered.Checkpoint.Next;
        _lastRead = recovered.Checkpoint.Next - 1;
        _quarantinedRegions = recovered.QuarantinedRegions;
        _quarantinedBytes = recovered.QuarantinedBytes;
        _run = new RunFeed(this);
    }

    public long QuarantinedRegions => Interlocked.Read(ref _quarantinedRegions);

    public long QuarantinedBytes => Interlocked.Read(ref _quarantinedBytes);

    /// <inheritdoc cref="IIngestBuffer.TakeAsync"/>
    public async ValueTask<bool> TakeAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort)
    {
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
        catch (IOException ex) when (!SpillErrors.IsPassing(ex))
        {
            // A segment or the journal the disk cannot be trusted with: the log fails, and the service stops.
            _state.Fail(ex, inHand: null);
            throw;
        }
        finally
        {
            _takeLock.Release();
        }
    }

    public void Dispose()
    {
        _cursor?.Dispose();
        _takeLock.Dispose();
    }

    /// <summary>Fills one cut's worth of batch. False once complete and drained; an empty batch means a cut with no records left.</summary>
    private async ValueTask<bool> FillAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort)
    {
        // The first record, waiting for one if need be.
        (long Sequence, IngestItem Item) first;
        while (!TryPeek(out first))
        {
            if (_readFault is null && _forcedCuts.TryDequeue(out var gone))
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
            while (true)
            {
                if (TryPeek(out var peeked))
                {
                    if (peeked.Sequence > cut.Last)
                    {
                        break;
                    }

                    batch.Add(peeked.Item);
                    _peeked = null;
                }
                else if (_readFault is not null)
                {
                    await WaitForDataAsync(Timeout.InfiniteTimeSpan, time, abort).ConfigureAwait(false); // read again shortly
                }
                else
                {
                    break; // the rest of the run is gone (cut off or quarantined at the start)
                }
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
            _run.Limit = _forcedCuts.TryPeek(out var next) ? next.First - 1 : long.MaxValue;
            _run.Last = from - 1;
            await Batcher.FillAsync(_run, batch, time.GetTimestamp(), limits, time, abort).ConfigureAwait(false);
            last = _run.Last;
            if (batch.Count == 0)
            {
                return true;
            }

            id = Guid.CreateVersion7(time.GetUtcNow());
            await JournalAsync(new Cut(from, last, id), time, abort).ConfigureAwait(false);
        }

        batch.Id = id;
        _cutFrom = last + 1;
        _state.Register(batch, new Cut(from, last, id));
        return true;
    }

    /// <summary>Journals a cut, retrying with backoff while the disk refuses for a passing reason (no space, no descriptors).</summary>
    private async ValueTask JournalAsync(Cut cut, TimeProvider time, CancellationToken abort)
    {
        var retry = new RetryDelay();
        while (true)
        {
            try
            {
                _journal.Append(cut);
                return;
            }
            catch (IOException ex) when (SpillErrors.IsPassing(ex))
            {
                if (retry.Current == RetryDelay.First)
                {
                    Log.JournalRetry(_logger, _options.Directory, ex.Message);
                }

                await Task.Delay(retry.Current, time, abort).ConfigureAwait(false);
                retry.Lengthen();
            }
        }
    }

    private void RegisterEmpty(Cut cut)
    {
        var taken = new Cut(Math.Min(_cutFrom, cut.First), cut.Last, cut.Id);
        _cutFrom = Math.Max(_cutFrom, cut.Last + 1);
        _state.RegisterEmpty(taken);
    }

    /// <summary>Waits up to <paramref name="timeout"/> for something to read. False when nothing more will ever come, or the time passed.</summary>
    private async ValueTask<bool> WaitForDataAsync(TimeSpan timeout, TimeProvider time, CancellationToken abort)
    {
        if (_readFault is { } fault)
        {
            // The last read failed for a passing reason (no descriptors): wait a little, then read again.
            _readFault = null;
            if (_readFaultLog.Due())
            {
                Log.ReadRetry(_logger, _options.Directory, fault.Message);
            }

            var delay = timeout != Timeout.InfiniteTimeSpan && timeout < _readRetry.Current ? timeout : _readRetry.Current;
            await Task.Delay(delay, time, abort).ConfigureAwait(false);
            _readRetry.Lengthen();
            return true;
        }

        if (_peeked is not null || _forcedCuts.Count > 0)
        {
            return true;
        }

        if (!_state.WaitForData(_lastRead, out var wait))
        {
            return false;
        }

        if (wait is null)
        {
            return true;
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
        return _state.TryTakeFromMemory(_lastRead, out sequence, out item, out var written) switch
        {
            LogState.Next.Taken => true,
            LogState.Next.ReadDisk => TryReadDisk(written, out sequence, out item),
            _ => false,
        };
    }

    /// <summary>Reads the next record after <see cref="_lastRead"/> from the segment files, up to what is written.</summary>
    private bool TryReadDisk(long written, out long sequence, out IngestItem item)
    {
        sequence = 0;
        item = null!;
        if (_lastRead + 1 >= written)
        {
            return false;
        }

        try
        {
            var read = TryReadSegments(written, out sequence, out item);
            _readRetry.Reset();
            return read;
        }
        catch (IOException ex) when (SpillErrors.IsPassing(ex))
        {
            // Opened again at the next try, from the start of its segment (records already read are skipped).
            _cursor?.Dispose();
            _cursor = null;
            _readFault = ex;
            return false;
        }
    }

    private bool TryReadSegments(long written, out long sequence, out IngestItem item)
    {
        sequence = 0;
        item = null!;
        while (true)
        {
            // The position first, then the segment's length: what it says is written, the length covers.
            if (_segments.ForReading(_lastRead + 1, _cursor?.FirstSequence) is not { } found)
            {
                return false;
            }

            var (segment, isLast) = found;
            var limit = segment.Length;
            if (_cursor is null || _cursor.FirstSequence != segment.First)
            {
                _cursor?.Dispose();
                _cursor = new SegmentReader(_files, segment.Path, segment.First);
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
                        Quarantine(_cursor, _cursor.Position - payload.Length - RecordCodec.HeaderLength,
                            payload.Length + RecordCodec.HeaderLength, ex.Message);
                        continue;
                    }
                }

                if (outcome == ReadOutcome.Damage)
                {
                    Quarantine(_cursor, damageStart, damageLength, "not a record");
                    continue;
                }

                break; // end of what is written of this segment
            }

            if (isLast)
            {
                // Everything written has been read: numbers skipped at a restart, given back or quarantined are gone for good.
                _lastRead = Math.Max(_lastRead, written - 1);
                return false;
            }

            var following = _segments.Following(segment);
            var lastSequence = _cursor.LastSequence;
            _cursor.Dispose();
            _cursor = new SegmentReader(_files, following.Path, following.First);
            _cursor.Seek(0, Math.Max(lastSequence, following.First - 1));
        }
    }

    /// <summary>
    /// Moves damaged bytes found while reading to the quarantine (once: damage found at the start was kept then). If
    /// the copy cannot be made, the damage is still skipped and said so; the bytes stay in the segment until it is freed.
    /// </summary>
    private void Quarantine(SegmentReader reader, long start, long length, string why)
    {
        if (_quarantined.Contains((reader.Path, start)))
        {
            return;
        }

        _quarantined.Add((reader.Path, start));
        Interlocked.Increment(ref _quarantinedRegions);
        Interlocked.Add(ref _quarantinedBytes, length);
        try
        {
            var path = SpillFiles.Quarantine(_files, _options.Directory, reader.Path, start, reader.ReadBytes(start, length));
            Log.Damage(_logger, reader.Path, start, length, path + " (" + why + ")");
        }
        catch (IOException ex) when (SpillErrors.IsPassing(ex))
        {
            Log.Damage(_logger, reader.Path, start, length, "nowhere: " + ex.Message + " (" + why + ")");
        }
    }

    /// <summary>
    /// The records of a new cut, as the batcher takes them: the next ones in order, up to <see cref="Limit"/> (where a
    /// cut taken before the restart begins); it says to cut at once when the log is full, since no more can come.
    /// </summary>
    private sealed class RunFeed(LogReader reader) : IBatchFeed
    {
        public long Limit { get; set; }

        /// <summary>The sequence number of the last record taken.</summary>
        public long Last { get; set; }

        public bool TryTake(out IngestItem item)
        {
            if (reader.TryPeek(out var peeked) && peeked.Sequence <= Limit)
            {
                item = peeked.Item;
                Last = peeked.Sequence;
                reader._peeked = null;
                return true;
            }

            item = null!;
            return false;
        }

        public async ValueTask<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken abort) =>
            reader._peeked is null && !reader._state.IsFull && await reader.WaitForDataAsync(timeout, time, abort).ConfigureAwait(false);
    }
}
