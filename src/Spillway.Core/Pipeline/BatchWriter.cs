using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Sinks;

namespace Spillway.Pipeline;

/// <summary>
/// The consumer: reads the buffer, cuts batches by size or linger, hands them to the sink, and commits them back to
/// the buffer once stored. A failed write is retried with backoff until it succeeds or the writer is aborted, so a
/// batch is never dropped: while the database is away the buffer fills and the sources push back.
/// </summary>
public sealed class BatchWriter
{
    private readonly IIngestBuffer _buffer;
    private readonly ISink _sink;
    private readonly BatchWriterOptions _options;
    private readonly IngestStats _stats;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Backoff _backoff;
    private readonly PipelineMetrics? _metrics;
    private volatile WriterState _state = WriterState.Starting;
    private volatile string? _lastError;
    private DateTimeOffset? _retryingSince;

    /// <summary>Creates a writer; <see cref="RunAsync"/> starts it.</summary>
    /// <param name="buffer">The buffer to drain; this writer must be its only reader.</param>
    /// <param name="sink">The opened sink to write to.</param>
    /// <param name="options">Batch size, linger and retry delays.</param>
    /// <param name="stats">Counts what is committed.</param>
    /// <param name="time">The clock for linger and backoff.</param>
    /// <param name="logger">Where failures are logged.</param>
    /// <param name="metrics">Where batch sizes, write durations and retries are recorded; null for nowhere.</param>
    /// <param name="jitter">The backoff's random source; null for a shared one.</param>
    public BatchWriter(
        IIngestBuffer buffer, ISink sink, BatchWriterOptions options, IngestStats stats, TimeProvider time, ILogger<BatchWriter> logger,
        PipelineMetrics? metrics = null, Random? jitter = null)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _buffer = buffer;
        _sink = sink;
        _options = options;
        _stats = stats;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _backoff = new Backoff(options.RetryInitialDelay, options.RetryMaxDelay, jitter);
    }

    /// <summary>What the writer is doing now.</summary>
    public WriterState State => _state;

    /// <summary>The message of the last failed write, or null if none has failed.</summary>
    public string? LastError => _lastError;

    /// <summary>When the current run of failed writes began, or null while writes succeed.</summary>
    public DateTimeOffset? RetryingSince => _retryingSince;

    /// <summary>
    /// Writes batches until the buffer is complete and drained.
    /// </summary>
    /// <param name="abort">Stops the writer at once, leaving what is not stored in the buffer (a forced stop).</param>
    /// <exception cref="OperationCanceledException">The writer was aborted.</exception>
    public async Task RunAsync(CancellationToken abort)
    {
        var batch = new Batch(_options.BatchSize);
        try
        {
            _state = WriterState.Idle;
            while (await _buffer.TakeAsync(batch, _options, _time, abort).ConfigureAwait(false))
            {
                var started = _time.GetTimestamp();
                var refused = await WriteWithRetryAsync(batch, abort).ConfigureAwait(false);
                var took = _time.GetElapsedTime(started);
                _stats.OnCommitted(batch.Messages.Count, batch.Rejects, refused);
                _metrics?.OnBatchStored(batch.Count, took); // after the totals, so a scrape never sees a batch before its rows
                _buffer.Commit(batch);
                batch.Clear();
            }
        }
        finally
        {
            _state = WriterState.Stopped;
        }
    }

    /// <summary>Writes the batch until it is stored; returns how many of its messages the database refused (kept as rejects).</summary>
    private async ValueTask<int> WriteWithRetryAsync(Batch batch, CancellationToken abort)
    {
        var attempt = 0;
        int refused;
        while (true)
        {
            // An attempt after a failure is still retrying: the state stays so until a write succeeds, however long each
            // attempt takes (SQLite's busy timeout, a connection that times out), so "retrying for minutes" can be alerted on.
            _state = attempt == 0 ? WriterState.Writing : WriterState.Retrying;
            try
            {
                refused = await _sink.WriteAsync(batch, abort).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !abort.IsCancellationRequested)
            {
                attempt++;
                var delay = _backoff.Delay(attempt);
                _retryingSince ??= _time.GetUtcNow();
                _lastError = ex.Message;
                _state = WriterState.Retrying;
                _metrics?.OnRetry();
                Log.BatchWriteFailed(_logger, ex, batch.Count, attempt, _retryingSince.Value, ex.Message, delay);
                await Task.Delay(delay, _time, abort).ConfigureAwait(false);
            }
        }

        if (attempt > 0)
        {
            Log.BatchWriteRecovered(_logger, batch.Count, attempt + 1);
        }

        _retryingSince = null;
        _state = WriterState.Idle;
        return refused;
    }
}
