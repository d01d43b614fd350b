using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Spill;

/// <summary>
/// The crash-safe buffer: every item a source hands in is appended to a log of checksummed records on disk before it
/// counts as durable, and stays there until the sink has stored it. Writers take batches as contiguous runs of the
/// log, each journalled (a cut) before it goes to the sink, so that after a crash the same runs are taken again under
/// the same batch ids and the sink's ledger stores none of them twice. A checkpoint, advanced after each commit, says
/// where replay starts; segment files wholly before it are deleted.
/// </summary>
/// <remarks>
/// <para>This class composes the parts, each of which owns its state: <see cref="LogState"/> (admission, positions,
/// the memory copy), <see cref="Flusher"/> (writing, fsync, rollback), <see cref="LogReader"/> (batches, from memory
/// or disk), <see cref="SegmentSet"/>, <see cref="CutJournal"/>, <see cref="CheckpointStore"/> and
/// <see cref="Recovery"/>; every file operation goes through one <see cref="ISpillFileSystem"/>.</para>
/// <para>The bound is the disk budget (<see cref="SpillOptions.MaxBytes"/>, capped by the free space of the
/// filesystem): within it sources never wait, so a database outage fills the disk instead of pushing back on senders.
/// A full disk or a lack of descriptors is a full log, never a failure: TCP is pushed back, HTTP answered 503, UDP
/// dropped, until the disk takes writes again. A receipt is told once its item is durable under the fsync policy.</para>
/// </remarks>
public sealed class SpillBuffer : IIngestBuffer, IBufferDiagnostics, IAsyncDisposable, IDisposable
{
    private readonly SpillOptions _options;
    private readonly IDisposable _lock;
    private readonly IDisposable _directory;
    private readonly LogState _state;
    private readonly SegmentSet _segments;
    private readonly CutJournal _journal;
    private readonly CheckpointStore _checkpoints;
    private readonly LogReader _reader;
    private readonly Flusher _flusher;
    private int _disposed;

    [ThreadStatic]
    private static byte[]? t_scratch;

    private SpillBuffer(SpillOptions options, IngestBufferOptions memory, IDisposable lockFile, IDisposable directory,
        LogState state, SegmentSet segments, CutJournal journal, CheckpointStore checkpoints, LogReader reader, Flusher flusher,
        Recovered recovered)
    {
        _options = options;
        Options = memory;
        _lock = lockFile;
        _directory = directory;
        _state = state;
        _segments = segments;
        _journal = journal;
        _checkpoints = checkpoints;
        _reader = reader;
        _flusher = flusher;
        Replayed = recovered.ReplayRecords;
        TruncatedBytes = recovered.TruncatedBytes;
    }

    /// <summary>
    /// Opens (creating if missing) and recovers the spill directory, and starts writing. Never refuses a damaged log:
    /// it cuts off a torn tail, quarantines what it cannot read and says so in the log.
    /// </summary>
    /// <exception cref="SpillUnavailableException">
    /// The directory cannot be created or written, another process holds it, or recovery has not even the space to
    /// keep the damage it found.
    /// </exception>
    public static SpillBuffer Open(SpillOptions options, IngestBufferOptions memory, IngestStats stats, TimeProvider time, ILogger<SpillBuffer> logger) =>
        Open(options, memory, stats, time, logger, OsFileSystem.Instance);

    internal static SpillBuffer Open(SpillOptions options, IngestBufferOptions memory, IngestStats stats, TimeProvider time, ILogger logger,
        ISpillFileSystem files)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(files);
        options.Validate();
        memory.Validate();
        var opened = new Stack<IDisposable>();
        try
        {
            files.CreateDirectory(options.Directory);
            try
            {
                opened.Push(files.Lock(SpillFiles.LockPath(options.Directory)));
            }
            catch (IOException ex)
            {
                throw new SpillUnavailableException(
                    $"cannot open the spill log '{options.Directory}': another process holds it ({ex.Message})", ex);
            }

            var lockFile = opened.Peek();
            var directory = files.OpenDirectory(options.Directory, out var syncDirectory);
            opened.Push(directory);
            var recovered = Recovery.Run(files, options.Directory, syncDirectory, logger);
            var sync = options.Fsync != SpillFsync.Never;
            var journal = CutJournal.Open(files, options.Directory, syncDirectory, options.Fsync == SpillFsync.Batch, recovered.Cuts);
            opened.Push(journal);
            var checkpoints = CheckpointStore.Open(files, options.Directory, recovered.Checkpoint, recovered.OlderCheckpoint, sync);
            opened.Push(checkpoints);
            var segments = new SegmentSet(files, options.Directory, syncDirectory, recovered.Segments);
            opened.Push(segments);
            var state = new LogState(options, memory, stats, time, logger, recovered);
            var reader = new LogReader(options, state, segments, journal, files, time, logger, recovered);
            opened.Push(reader);
            var flusher = new Flusher(options, state, segments, checkpoints, journal, files, time, logger);
            stats.OnReplayed(recovered.ReplayRecords);
            Log.Opened(logger, options.Directory, recovered.ReplayRecords, recovered.ReplayBytes, recovered.Checkpoint.Next, recovered.NextSequence);
            var buffer = new SpillBuffer(options, memory, lockFile, directory, state, segments, journal, checkpoints, reader, flusher, recovered);
            flusher.Start(recovered.NextSequence);
            return buffer;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            DisposeAll(opened);
            throw new SpillUnavailableException($"cannot open the spill log '{options.Directory}': {ex.Message}", ex);
        }
        catch
        {
            DisposeAll(opened);
            throw;
        }
    }

    /// <inheritdoc />
    public IngestBufferOptions Options { get; }

    /// <summary>The disk settings.</summary>
    public SpillOptions SpillOptions => _options;

    /// <inheritdoc />
    public long Messages => _state.Messages;

    /// <inheritdoc />
    public long Bytes => _state.Bytes;

    /// <summary>Bytes of segment files (and records about to be written to them) on disk now.</summary>
    public long DiskBytes => _state.DiskBytes;

    /// <summary>The disk budget in force: <see cref="SpillOptions.MaxBytes"/>, capped by the free space of the filesystem.</summary>
    public long BudgetBytes => _state.Budget;

    /// <summary>The size at which a segment is closed and the next begun: a sixteenth of the budget, within bounds.</summary>
    public long SegmentBytes => _state.SegmentBytes;

    /// <summary>Bytes of records written to segment files since the start.</summary>
    public long WrittenBytes => _state.WrittenBytes;

    /// <summary>Messages taken and then given back to their senders (answered 503) because the disk refused to write them.</summary>
    public long GivenBack => _state.GivenBack;

    /// <summary>Records found at the start, from before it, to be stored.</summary>
    public long Replayed { get; }

    /// <summary>Damaged regions moved to the quarantine (at the start, or found while reading).</summary>
    public long QuarantinedRegions => _reader.QuarantinedRegions;

    /// <summary>Bytes moved to the quarantine.</summary>
    public long QuarantinedBytes => _reader.QuarantinedBytes;

    /// <summary>Bytes of a torn last write cut off at the start (and kept in the quarantine).</summary>
    public long TruncatedBytes { get; }

    /// <inheritdoc />
    public string? Failure => _state.Failure;

    /// <inheritdoc />
    public Task Faulted => _state.Faulted;

    /// <inheritdoc />
    public string? Refusal => _state.Refusal;

    /// <summary>A test's hold on the flusher between writing records and persisting the checkpoint, where a commit can land.</summary>
    internal Func<Task>? BeforeCheckpoint
    {
        get => _flusher.BeforeCheckpoint;
        set => _flusher.BeforeCheckpoint = value;
    }

    /// <summary>
    /// One line for the end of a run: bytes written to the log, bytes of it on disk now, messages in it not yet
    /// stored (0 after a drain; those of a forced stop, stored at the next start), messages given back, and the damage found.
    /// </summary>
    public string Summary() =>
        string.Create(CultureInfo.InvariantCulture,
            $"spill: written_bytes={WrittenBytes} disk_bytes={DiskBytes} unstored={Messages} given_back={GivenBack} " +
            $"quarantined={QuarantinedRegions} quarantined_bytes={QuarantinedBytes} truncated_bytes={TruncatedBytes}");

    /// <inheritdoc />
    public void AddInstruments(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        meter.CreateObservableGauge("spillway.spill.size", () => DiskBytes, "By", "Bytes of the spill log on disk now");
        meter.CreateObservableGauge("spillway.spill.size.limit", () => BudgetBytes, "By",
            "The spill log's disk budget in force: --spill-max-bytes, capped by the free space of its filesystem");
        meter.CreateObservableCounter("spillway.spill.written", () => WrittenBytes, "By", "Bytes of records written to the spill log");
        meter.CreateObservableCounter("spillway.spill.replayed", () => Replayed, "{message}",
            "Messages found in the spill log at the start, accepted before it and stored after");
        meter.CreateObservableCounter("spillway.spill.quarantined", () => QuarantinedRegions, "{region}",
            "Damaged regions of the spill log skipped and moved to its quarantine directory");
        meter.CreateObservableCounter("spillway.spill.truncated", () => TruncatedBytes, "By",
            "Bytes of a torn last write cut off the spill log at the start (and kept in its quarantine directory)");
        meter.CreateObservableCounter("spillway.spill.given_back", () => GivenBack, "{message}",
            "Messages taken and given back to their senders (HTTP answered 503) because the disk refused to write them");
        meter.CreateObservableGauge("spillway.spill.refusing", () => Refusal is null ? 0 : 1, unit: null,
            "1 while the spill log's disk refuses writes (full, or the process out of descriptors), else 0");
    }

    /// <inheritdoc />
    public async ValueTask WriteAsync(IngestItem item, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var scratch = t_scratch ??= new byte[4096];
            var length = RecordCodec.Encode(item, ref scratch);
            t_scratch = scratch;
            if (_state.TryAppend(item, scratch.AsSpan(0, length), waits: true, out var room))
            {
                return;
            }

            // The encoded record may be overwritten by another item on this thread meanwhile: encoded again after.
            await room!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public bool TryWrite(IngestItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var scratch = t_scratch ??= new byte[4096];
        var length = RecordCodec.Encode(item, ref scratch);
        t_scratch = scratch;
        return _state.TryAppend(item, scratch.AsSpan(0, length), waits: false, out _);
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

        return _state.TryAppendAll(items, encoded, total);
    }

    /// <inheritdoc />
    public bool CouldEverHold(int items, long bytes) =>
        bytes + ((long)items * (RecordCodec.HeaderLength + 64)) <= _options.MaxBytes;

    /// <inheritdoc />
    public void Complete() => _state.Complete();

    /// <inheritdoc />
    public ValueTask<bool> TakeAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(time);
        return _reader.TakeAsync(batch, limits, time, abort);
    }

    /// <inheritdoc />
    public void Commit(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _state.Commit(batch);
    }

    /// <summary>Writes what is pending, persists the checkpoint and closes the files. Call after the writers have stopped.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Complete();
        try
        {
            await _flusher.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _reader.Dispose();
            _segments.Dispose();
            _journal.Dispose();
            _checkpoints.Dispose();
            _directory.Dispose();
            _lock.Dispose();
        }
    }

    /// <summary>As <see cref="DisposeAsync"/>, for a container that disposes synchronously.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static void DisposeAll(Stack<IDisposable> opened)
    {
        while (opened.TryPop(out var disposable))
        {
            disposable.Dispose();
        }
    }
}
