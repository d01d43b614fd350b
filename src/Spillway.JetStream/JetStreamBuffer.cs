using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.JetStream;

/// <summary>
/// A writer node's buffer: its batches are the stream's messages, taken from the durable consumer every writer shares,
/// each one a batch as its edge cut it (the batch size and linger of the take do not apply), under the id the edge
/// derived for it, so that the database's ledger stores a message delivered twice (its writer died, or its
/// acknowledgement was lost) once. A batch is acknowledged only once the database has committed it (<see cref="Commit"/>);
/// while a writer holds it (a database outage) the server is told it is in progress every third of the ack wait, so it is
/// delivered to another writer only when this one is gone. No source writes here.
/// </summary>
public sealed class JetStreamBuffer : IIngestBuffer, IAsyncDisposable
{
    private static readonly TimeSpan PullExpiry = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ReconnectPause = TimeSpan.FromSeconds(1);

    private readonly JetStreamClient _client;
    private readonly JetStreamMetrics _metrics;
    private readonly int _maxRejectBytes;
    private readonly IngestStats _stats;
    private readonly TimeProvider _time;
    private readonly ILogger<JetStreamBuffer> _logger;
    private readonly ConcurrentDictionary<Batch, INatsJSMsg<byte[]>> _held = new(ReferenceEqualityComparer.Instance);
    private readonly Channel<INatsJSMsg<byte[]>> _acks = Channel.CreateUnbounded<INatsJSMsg<byte[]>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _completed = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly LogPacer _takeFailures;
    private INatsJSConsumer? _consumer;
    private Task _acking = Task.CompletedTask;
    private Task _progress = Task.CompletedTask;
    private long _messages;
    private long _bytes;
    private int _disposed;

    /// <summary>Creates the buffer; <see cref="OpenAsync"/> finds the consumer.</summary>
    /// <param name="client">The node's shared client.</param>
    /// <param name="metrics">Where takes, deliveries and failed acknowledgements are counted.</param>
    /// <param name="options">Shown as the bounds; a writer node holds what its writers took, no more.</param>
    /// <param name="maxRejectBytes">How much of a message that is not a batch is kept in its reject.</param>
    /// <param name="stats">Counts what is taken as replayed: a writer accepts nothing, it stores what its edges accepted.</param>
    /// <param name="time">The clock of the progress signals and the pauses.</param>
    /// <param name="logger">Where failures are logged.</param>
    public JetStreamBuffer(
        JetStreamClient client, JetStreamMetrics metrics, IngestBufferOptions options, int maxRejectBytes, IngestStats stats, TimeProvider time,
        ILogger<JetStreamBuffer> logger)
    {
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRejectBytes, 1);
        _client = client;
        _metrics = metrics;
        Options = options;
        _maxRejectBytes = maxRejectBytes;
        _stats = stats;
        _time = time;
        _logger = logger;
        _takeFailures = new LogPacer(time);
    }

    /// <inheritdoc />
    public IngestBufferOptions Options { get; }

    /// <inheritdoc />
    public long Messages => Interlocked.Read(ref _messages);

    /// <inheritdoc />
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Connects, finds (or creates) the consumer, and starts acknowledging and signalling progress.</summary>
    /// <exception cref="Sinks.SinkUnavailableException">The servers, the stream or the consumer cannot be had; the message says why.</exception>
    public async ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        _consumer = await _client.OpenConsumerAsync(cancellationToken).ConfigureAwait(false);
        _acking = AcknowledgeAsync();
        _progress = SignalProgressAsync(_stopping.Token);
    }

    /// <inheritdoc />
    public ValueTask WriteAsync(IngestItem item, CancellationToken cancellationToken = default) => throw NoSources();

    /// <inheritdoc />
    public bool TryWrite(IngestItem item) => throw NoSources();

    /// <inheritdoc />
    public bool TryWriteAll(IReadOnlyList<IngestItem> items) => throw NoSources();

    /// <inheritdoc />
    public bool CouldEverHold(int items, long bytes) => false;

    /// <summary>No more batches are taken: what is left stays in the stream for the other writers, or this one's next start.</summary>
    public void Complete() => _completed.Cancel();

    /// <inheritdoc />
    public async ValueTask<bool> TakeAsync(Batch batch, BatchWriterOptions limits, TimeProvider time, CancellationToken abort)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var consumer = _consumer ?? throw new InvalidOperationException("The buffer is not open.");
        using var taking = CancellationTokenSource.CreateLinkedTokenSource(abort, _completed.Token);
        while (true)
        {
            abort.ThrowIfCancellationRequested();
            if (_completed.IsCancellationRequested)
            {
                return false;
            }

            INatsJSMsg<byte[]>? message;
            try
            {
                message = await consumer.NextAsync<byte[]>(opts: new NatsJSNextOpts { Expires = PullExpiry }, cancellationToken: taking.Token)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!abort.IsCancellationRequested)
            {
                return false; // completed
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException)
            {
                // The connection is down or the cluster has no leader for the stream for now: the client reconnects.
                if (_takeFailures.Due())
                {
                    Log.TakeFailed(_logger, ex.Message);
                }

                try
                {
                    await Task.Delay(ReconnectPause, _time, taking.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!abort.IsCancellationRequested)
                {
                    return false;
                }

                continue;
            }

            if (message is null)
            {
                continue; // nothing within the pull's expiry
            }

            Fill(batch, message);
            return true;
        }
    }

    /// <summary>The database committed the batch: it is acknowledged (in the background, in order).</summary>
    public void Commit(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!_held.TryRemove(batch, out var held))
        {
            throw new InvalidOperationException("The batch was not taken from this buffer.");
        }

        Interlocked.Add(ref _messages, -batch.Count);
        Interlocked.Add(ref _bytes, -batch.Bytes);
        _acks.Writer.TryWrite(held); // unbounded: never false while open
    }

    /// <summary>
    /// Waits for the acknowledgements of what was committed, and hands what is held and not stored (a forced stop) back to
    /// the stream, to be delivered to another writer at once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _completed.Cancel();
        _acks.Writer.TryComplete();
        await _acking.ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _progress.ConfigureAwait(false);
        foreach (var held in _held.Values)
        {
            try
            {
                await held.NakAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException)
            {
                // It is delivered again after the ack wait instead.
            }
        }

        _held.Clear();
        _completed.Dispose();
        _stopping.Dispose();
    }

    private void Fill(Batch batch, INatsJSMsg<byte[]> message)
    {
        var payload = message.Data ?? [];
        var deliveries = message.Metadata?.NumDelivered ?? 1;
        var sequence = message.Metadata?.Sequence.Stream ?? 0;
        _metrics.OnTaken(deliveries);
        try
        {
            var (id, part, parts, items) = BatchPayload.Decode(payload);
            batch.Id = BatchPayload.StoredId(id, part, parts);
            foreach (var item in items)
            {
                batch.Add(item);
            }
        }
        catch (InvalidDataException ex)
        {
            // Not what an edge published: kept, as a reject under an id of its stream sequence, so it is stored once too.
            batch.Clear();
            batch.Id = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"{_client.Options.Stream}#{sequence}"))[..16]);
            batch.Add(new Reject(message.Metadata?.Timestamp ?? _time.GetUtcNow(), Transport.JetStream, $"{_client.Options.Stream}#{sequence}",
                RejectReason.Undecodable, payload.AsSpan(0, Math.Min(payload.Length, _maxRejectBytes)).ToArray(), ex.Message));
            _metrics.OnUndecodable();
            Log.Undecodable(_logger, sequence, ex.Message);
        }

        _held[batch] = message;
        _stats.OnReplayed(batch.Count);
        Interlocked.Add(ref _messages, batch.Count);
        Interlocked.Add(ref _bytes, batch.Bytes);
    }

    private async Task AcknowledgeAsync()
    {
        await foreach (var message in _acks.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                // Double ack: the server confirms it, so a lost acknowledgement is counted rather than guessed.
                await message.AckAsync(new AckOpts { DoubleAck = true }).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NatsException or TimeoutException)
            {
                _metrics.OnAckFailed();
                Log.AckFailed(_logger, ex.Message);
            }
        }
    }

    private async Task SignalProgressAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_client.Options.AckWait / 3, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                foreach (var held in _held.Values)
                {
                    try
                    {
                        await held.AckProgressAsync(cancellationToken: stopping).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is NatsException or TimeoutException)
                    {
                        // The next tick tries again; past the ack wait the batch goes to another writer, and the ledger keeps it once.
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private static InvalidOperationException NoSources() =>
        new("A writer node takes its batches from the JetStream stream: nothing is written into its buffer.");
}
