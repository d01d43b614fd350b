using NATS.Client.Core;
using NATS.Client.JetStream;
using Spillway.Pipeline;
using Spillway.Sinks;

namespace Spillway.JetStream;

/// <summary>
/// An edge's sink: publishes each batch to the stream as one message, or as several parts when it is larger than the
/// stream takes, each under a message id of its own derived from the batch id (<see cref="BatchPayload.MessageId"/>).
/// A write returns once the stream has acknowledged every part (a majority of its replicas hold it), so the spill log
/// commits the batch only then; a batch written again after a crash is dropped by the stream as a duplicate within its
/// window, and past it stored once by the writers' ledger. A full stream refuses the publish: the write fails, the
/// writer retries with backoff, and the spill log absorbs, then pushes back, as with a database outage.
/// </summary>
public sealed class JetStreamSink : ISink
{
    // JetStream's API error code (nats-server's errors.json) of a store that refused a message: "maximum bytes exceeded"
    // for a stream at its byte limit (Discard=New).
    private const int StreamStoreFailed = 10077;

    private readonly JetStreamClient _client;
    private readonly JetStreamMetrics _metrics;
    private readonly int _maxItemBytes;
    private readonly TimeProvider _time;

    /// <summary>Creates the sink on the node's shared client.</summary>
    /// <param name="client">The node's client.</param>
    /// <param name="metrics">Where publishes are counted and timed.</param>
    /// <param name="maxItemBytes">The longest message a source takes: one must fit in a stream message, which the start checks.</param>
    /// <param name="time">The clock of the publish durations.</param>
    public JetStreamSink(JetStreamClient client, JetStreamMetrics metrics, int maxItemBytes, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxItemBytes, 1);
        ArgumentNullException.ThrowIfNull(time);
        _client = client;
        _metrics = metrics;
        _maxItemBytes = maxItemBytes;
        _time = time;
    }

    /// <summary>Connects (once for the node), and checks that the longest message a source takes fits in a stream message.</summary>
    /// <exception cref="SinkUnavailableException">The stream cannot be had, or a message of the longest size would not fit; the message says why.</exception>
    public async ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        await _client.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (BatchPayload.LargestItem(_client.MaxMessageBytes) < _maxItemBytes)
        {
            throw new SinkUnavailableException(
                $"a message of --max-message-bytes {_maxItemBytes} does not fit in a stream message of {_client.MaxMessageBytes} bytes with its " +
                $"fields: lower --max-message-bytes to {BatchPayload.LargestItem(_client.MaxMessageBytes)}, or raise the server's max_payload " +
                "and the stream's max message size");
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> WriteAsync(Batch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Id == Guid.Empty)
        {
            throw new ArgumentException("A batch published to JetStream needs an id: the stream and the writers' ledger drop duplicates by it.",
                nameof(batch));
        }

        // The parts go out together and their acknowledgements are awaited together: a part's round trip to a majority of
        // the replicas is most of a publish's time. The batch is stored only once every part is; a part that failed makes
        // the writer publish the whole batch again, whose parts the stream already has are answered as duplicates.
        var publishes = BatchPayload.Encode(batch, _client.MaxMessageBytes).Select(p => PublishAsync(p.MessageId, p.Payload, cancellationToken)).ToList();
        await Task.WhenAll(publishes).ConfigureAwait(false);
        return 0;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the client belongs to whoever made it

    private async Task PublishAsync(string messageId, byte[] payload, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            var ack = await _client.Context.PublishAsync(_client.Options.Subject, payload, opts: new NatsJSPubOpts { MsgId = messageId },
                cancellationToken: cancellationToken).ConfigureAwait(false);
            if (ack.Error is { } error)
            {
                throw new NatsJSApiException(error);
            }

            // A duplicate is success: the stream has this part from an earlier attempt (EnsureSuccess would throw).
            _metrics.OnPublished(ack.Duplicate, _time.GetElapsedTime(started));
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            _metrics.OnPublishFailed(Reason(ex));
            throw;
        }
    }

    /// <summary>Why a publish failed, as the metric's label says it.</summary>
    internal static string Reason(Exception ex) => ex switch
    {
        NatsJSApiException { Error.ErrCode: StreamStoreFailed } api when api.Error.Description?.Contains("maximum", StringComparison.Ordinal) == true => "full",
        NatsJSApiException => "refused",
        _ => "no-response",
    };
}
