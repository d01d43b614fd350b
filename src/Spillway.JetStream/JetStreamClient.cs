using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Spillway.Checks;
using Spillway.Sinks;

namespace Spillway.JetStream;

/// <summary>
/// The one connection a node keeps to the NATS cluster, shared by its edge sinks and its writers, and the stream and
/// consumer they use: connected, checked and (when missing) created once, at start, failing it with a clear reason.
/// </summary>
public sealed class JetStreamClient : IAsyncDisposable
{
    // JetStream's API error codes (nats-server's errors.json).
    private const int StreamNotFound = 10059;
    private const int StreamNameInUse = 10058;
    private const int ConsumerNotFound = 10014;
    private const int InsufficientResources = 10023;
    private const int NoSuitablePeers = 10005;

    private readonly JetStreamOptions _options;
    private readonly ILogger<JetStreamClient> _logger;
    private readonly SemaphoreSlim _opening = new(1, 1);
    private NatsConnection? _connection;
    private NatsJSContext? _js;

    /// <summary>Creates the client; nothing is connected until <see cref="OpenAsync"/>.</summary>
    public JetStreamClient(JetStreamOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _options = options;
        _logger = loggerFactory.CreateLogger<JetStreamClient>();
        LoggerFactory = loggerFactory;
    }

    /// <summary>The settings.</summary>
    public JetStreamOptions Options => _options;

    /// <summary>The JetStream context, once open.</summary>
    internal NatsJSContext Context => _js ?? throw new InvalidOperationException("The JetStream client is not open.");

    /// <summary>The largest message an edge publishes: the setting, or the server's <c>max_payload</c>, whichever is smaller.</summary>
    public int MaxMessageBytes { get; private set; }

    /// <summary>The server the connection is on now, for /health.</summary>
    public string? ConnectedServer => _connection?.ServerInfo is { } info ? $"{info.Host}:{info.Port} ({info.Name})" : null;

    /// <summary>Whether <see cref="OpenAsync"/> has succeeded.</summary>
    public bool IsOpen => _js is not null;

    /// <summary>Whether the connection is up now.</summary>
    public bool Connected => _connection?.ConnectionState == NatsConnectionState.Open;

    internal ILoggerFactory LoggerFactory { get; }

    /// <summary>
    /// Connects and checks that the servers run JetStream and that the stream exists with a subject to publish to,
    /// creating it when missing. Idempotent: the sinks and the writers each call it.
    /// </summary>
    /// <exception cref="SinkUnavailableException">The servers cannot be reached, lack JetStream, or the stream cannot be had; the message says which.</exception>
    public async ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_js is not null)
            {
                return;
            }

            var connection = await ConnectAsync().ConfigureAwait(false);
            var js = new NatsJSContext(connection);
            try
            {
                await js.GetAccountInfoAsync(cancellationToken).ConfigureAwait(false);
                var stream = await EnsureStreamAsync(js, cancellationToken).ConfigureAwait(false);
                var serverMax = (int)Math.Min(int.MaxValue, connection.ServerInfo?.MaxPayload ?? 1 << 20);
                var streamMax = stream.Config.MaxMsgSize is > 0 and var m ? m : int.MaxValue;
                MaxMessageBytes = Math.Min(serverMax, Math.Min(streamMax, _options.MaxMessageBytes > 0 ? _options.MaxMessageBytes : int.MaxValue));
                if (MaxMessageBytes < BatchPayload.MinMessageBytes)
                {
                    throw new SinkUnavailableException(
                        $"the largest message the stream '{_options.Stream}' takes is {MaxMessageBytes} bytes, under the {BatchPayload.MinMessageBytes} " +
                        "a batch needs: raise the stream's max_msg_size or the server's max_payload");
                }
            }
            catch (Exception ex) when (IsJetStreamRefusal(ex))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw new SinkUnavailableException(Explain(ex), ex);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            _connection = connection;
            _js = js;
            Log.Connected(_logger, _options.Url, ConnectedServer ?? "?", _options.Stream, MaxMessageBytes);
        }
        finally
        {
            _opening.Release();
        }
    }

    /// <summary>
    /// What <c>check-config</c> (and serve, before it starts) says of the cluster, found without creating anything: the
    /// servers are reached, run JetStream for this account, and the stream and the consumer exist (with their differences
    /// from these settings) or will be created.
    /// </summary>
    public async Task<CheckReport> CheckAsync(CancellationToken cancellationToken)
    {
        var report = new CheckReport();
        NatsConnection connection;
        try
        {
            connection = await ConnectAsync().ConfigureAwait(false);
        }
        catch (SinkUnavailableException ex)
        {
            report.Problem(ex.Message);
            return report;
        }

        await using (connection.ConfigureAwait(false))
        {
            var js = new NatsJSContext(connection);
            try
            {
                var account = await js.GetAccountInfoAsync(cancellationToken).ConfigureAwait(false);
                report.Fact($"NATS JetStream at {_options.Url}: reached {connection.ServerInfo?.Name} ({connection.ServerInfo?.Version}), max_payload " +
                    $"{connection.ServerInfo?.MaxPayload}, this account's streams {account.Streams}");
                try
                {
                    var stream = await js.GetStreamAsync(_options.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
                    var differences = StreamDifferences(StreamConfig(), stream.Info.Config).ToList();
                    report.Fact($"stream {_options.Stream}: {stream.Info.State.Messages} messages, {stream.Info.State.Bytes} bytes");
                    differences.ForEach(d => report.Warning($"stream {_options.Stream} exists with {d}; it is used as it is"));
                    if (MissingSubject(stream.Info.Config) is { } missing)
                    {
                        report.Problem(missing);
                    }
                }
                catch (NatsJSApiException ex) when (ex.Error.ErrCode == StreamNotFound)
                {
                    report.Fact($"stream {_options.Stream}: missing; the first node to start creates it ({Describe(StreamConfig())})");
                }
            }
            catch (Exception ex) when (IsJetStreamRefusal(ex))
            {
                report.Problem(Explain(ex));
            }
        }

        return report;
    }

    /// <summary>
    /// The durable consumer every writer shares, created when missing; one that exists is used as it is, its differences
    /// logged.
    /// </summary>
    /// <exception cref="SinkUnavailableException">The consumer cannot be had; the message says why.</exception>
    internal async ValueTask<INatsJSConsumer> OpenConsumerAsync(CancellationToken cancellationToken)
    {
        await OpenAsync(cancellationToken).ConfigureAwait(false);
        var wanted = ConsumerConfig();
        try
        {
            try
            {
                var existing = await Context.GetConsumerAsync(_options.Stream, _options.Consumer, cancellationToken).ConfigureAwait(false);
                LogDifferences("consumer", _options.Consumer, ConsumerDifferences(wanted, existing.Info.Config));
                return existing;
            }
            catch (NatsJSApiException ex) when (ex.Error.ErrCode == ConsumerNotFound)
            {
                // Several writers starting at once may each create it: with the same settings that is no conflict.
                var created = await Context.CreateOrUpdateConsumerAsync(_options.Stream, wanted, cancellationToken).ConfigureAwait(false);
                var settings = Describe(wanted);
                Log.Created(_logger, "consumer", _options.Consumer, settings);
                return created;
            }
        }
        catch (Exception ex) when (IsJetStreamRefusal(ex))
        {
            throw new SinkUnavailableException(Explain(ex), ex);
        }
    }

    /// <summary>The stream's and the consumer's state now, for the metrics; null when the servers do not answer.</summary>
    internal async ValueTask<(StreamState? Stream, ConsumerInfo? Consumer)> StateAsync(bool consumer, CancellationToken cancellationToken)
    {
        StreamState? stream = null;
        ConsumerInfo? info = null;
        try
        {
            stream = (await Context.GetStreamAsync(_options.Stream, cancellationToken: cancellationToken).ConfigureAwait(false)).Info.State;
            if (consumer)
            {
                info = (await Context.GetConsumerAsync(_options.Stream, _options.Consumer, cancellationToken).ConfigureAwait(false)).Info;
            }
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            Log.StateUnavailable(_logger, ex.Message);
        }

        return (stream, info);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _opening.Dispose();
    }

    /// <summary>Connects to the servers, with the credentials and TLS of the settings.</summary>
    /// <exception cref="SinkUnavailableException">The servers cannot be reached or refuse the credentials; the message says which.</exception>
    private async Task<NatsConnection> ConnectAsync()
    {
        var connection = new NatsConnection(NatsOpts.Default with
        {
            Url = _options.Url,
            Name = "spillway",
            LoggerFactory = LoggerFactory,
            AuthOpts = new NatsAuthOpts { Username = _options.User, Password = _options.Password, CredsFile = _options.CredsFile },
            TlsOpts = _options.CaFile is null ? NatsTlsOpts.Default : new NatsTlsOpts { CaFile = _options.CaFile, Mode = TlsMode.Require },
            ConnectTimeout = TimeSpan.FromSeconds(5),
            MaxReconnectRetry = -1,
        });
        try
        {
            await connection.ConnectAsync().ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is NatsException or IOException or TimeoutException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            // The client wraps the server's own answer (an authorization violation, say): say that one.
            throw new SinkUnavailableException($"cannot reach the NATS servers at {_options.Url}: {Innermost(ex).Message}", ex);
        }
    }

    /// <summary>What the JetStream API answers, or its silence: no JetStream, no responder, a refusal with its code.</summary>
    private static bool IsJetStreamRefusal(Exception ex) =>
        ex is NatsJSApiNoResponseException or NatsNoRespondersException or NatsJSApiException or NatsNoReplyException;

    /// <summary>Why an existing stream cannot be published to on the subject of the settings, or null when it can.</summary>
    private string? MissingSubject(StreamConfig config) => config.Subjects?.Contains(_options.Subject) == true
        ? null
        : $"the stream '{_options.Stream}' exists without the subject '{_options.Subject}' (it has " +
          $"{string.Join(", ", config.Subjects ?? [])}): give --nats-subject one of them, or another --nats-stream";

    private static Exception Innermost(Exception ex) => ex.InnerException is { } inner ? Innermost(inner) : ex;

    private async ValueTask<StreamInfo> EnsureStreamAsync(NatsJSContext js, CancellationToken cancellationToken)
    {
        var wanted = StreamConfig();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var existing = await js.GetStreamAsync(_options.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
                LogDifferences("stream", _options.Stream, StreamDifferences(wanted, existing.Info.Config));
                if (MissingSubject(existing.Info.Config) is { } missing)
                {
                    throw new SinkUnavailableException(missing);
                }

                return existing.Info;
            }
            catch (NatsJSApiException ex) when (ex.Error.ErrCode == StreamNotFound)
            {
                try
                {
                    var created = await js.CreateStreamAsync(wanted, cancellationToken).ConfigureAwait(false);
                    var settings = Describe(wanted);
                    Log.Created(_logger, "stream", _options.Stream, settings);
                    return created.Info;
                }
                catch (NatsJSApiException race) when (race.Error.ErrCode == StreamNameInUse && attempt == 0)
                {
                    // Another node created it between the look and the create: use theirs.
                }
            }
        }
    }

    private StreamConfig StreamConfig() => new(_options.Stream, [_options.Subject])
    {
        Retention = StreamConfigRetention.Workqueue,
        Discard = StreamConfigDiscard.New,
        Storage = StreamConfigStorage.File,
        MaxBytes = _options.MaxBytes,
        NumReplicas = _options.Replicas,
        DuplicateWindow = _options.DuplicateWindow,
        MaxMsgSize = _options.MaxMessageBytes > 0 ? _options.MaxMessageBytes : -1,
        Description = "Spillway: batches from the edges, for the writers",
    };

    private ConsumerConfig ConsumerConfig() => new(_options.Consumer)
    {
        AckPolicy = ConsumerConfigAckPolicy.Explicit,
        DeliverPolicy = ConsumerConfigDeliverPolicy.All,
        AckWait = _options.AckWait,
        MaxAckPending = _options.MaxAckPending,
        MaxDeliver = -1,
        Description = "Spillway: the writer pool",
    };

    private static IEnumerable<string> StreamDifferences(StreamConfig wanted, StreamConfig actual)
    {
        if (actual.Retention != wanted.Retention)
        {
            yield return $"retention {actual.Retention} (not {wanted.Retention}: messages may outlive their acknowledgement)";
        }

        if (actual.Discard != wanted.Discard)
        {
            yield return $"discard {actual.Discard} (not {wanted.Discard}: a full stream deletes old batches instead of refusing new ones)";
        }

        if (actual.MaxBytes != wanted.MaxBytes)
        {
            yield return $"max_bytes {actual.MaxBytes} (not {wanted.MaxBytes})";
        }

        if (actual.NumReplicas != wanted.NumReplicas)
        {
            yield return $"replicas {actual.NumReplicas} (not {wanted.NumReplicas})";
        }

        if (actual.DuplicateWindow != wanted.DuplicateWindow)
        {
            yield return $"duplicate window {actual.DuplicateWindow} (not {wanted.DuplicateWindow})";
        }

        if (wanted.MaxMsgSize > 0 && actual.MaxMsgSize != wanted.MaxMsgSize)
        {
            yield return $"max_msg_size {actual.MaxMsgSize} (not {wanted.MaxMsgSize})";
        }
    }

    private static IEnumerable<string> ConsumerDifferences(ConsumerConfig wanted, ConsumerConfig actual)
    {
        if (actual.AckPolicy != wanted.AckPolicy)
        {
            yield return $"ack policy {actual.AckPolicy} (not {wanted.AckPolicy}: a batch may be lost when a writer dies)";
        }

        if (actual.AckWait != wanted.AckWait)
        {
            yield return $"ack wait {actual.AckWait} (not {wanted.AckWait})";
        }

        if (actual.MaxAckPending != wanted.MaxAckPending)
        {
            yield return $"max ack pending {actual.MaxAckPending} (not {wanted.MaxAckPending})";
        }

        if (actual.MaxDeliver is > 0)
        {
            yield return $"max deliver {actual.MaxDeliver} (not unlimited: a batch whose database is away that long is never stored)";
        }
    }

    private void LogDifferences(string kind, string name, IEnumerable<string> differences)
    {
        var list = differences.ToList();
        if (list.Count > 0)
        {
            Log.Differs(_logger, kind, name, string.Join("; ", list));
        }
    }

    private static string Describe(StreamConfig c) =>
        $"subject {string.Join(",", c.Subjects ?? [])}, work queue, discard new, max_bytes {c.MaxBytes}, replicas {c.NumReplicas}, " +
        $"duplicate window {c.DuplicateWindow}";

    private static string Describe(ConsumerConfig c) => $"explicit ack, ack wait {c.AckWait}, max ack pending {c.MaxAckPending}";

    private string Explain(Exception ex) => ex switch
    {
        NatsJSApiNoResponseException or NatsNoRespondersException or NatsNoReplyException =>
            $"the NATS servers at {_options.Url} do not answer JetStream requests: is JetStream on (nats-server -js, or a jetstream block " +
            $"in its configuration), and does this account have it? ({ex.Message})",
        NatsJSApiException { Error.ErrCode: InsufficientResources or NoSuitablePeers } =>
            $"the NATS servers refused to create the stream '{_options.Stream}' of {_options.MaxBytes} bytes and {_options.Replicas} replicas " +
            $"({ex.Message}): each of {_options.Replicas} servers must have that much room left under its JetStream max_file_store (every " +
            "stream's byte limit is reserved there), and the cluster that many servers: lower --nats-stream-max-bytes or --nats-replicas, " +
            "or give the servers more store",
        NatsJSApiException { Error.Code: 403 } api =>
            $"the NATS account may not use the stream '{_options.Stream}' or its consumer: {api.Error.Description} (code {api.Error.ErrCode})",
        NatsJSApiException api => $"JetStream refused: {api.Error.Description} (code {api.Error.ErrCode})",
        _ => ex.Message,
    };
}
