using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using Spillway.Diagnostics;
using Spillway.Keys;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Tls;
using HttpProtocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols;
using KestrelServerOptions = Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions;
using ListenOptions = Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions;

namespace Spillway.Http;

/// <summary>
/// <c>POST /ingest</c> on Kestrel: <c>text/plain</c> (a message per line), <c>application/x-ndjson</c> (a JSON object
/// per line) or <c>application/json</c> (an object or an array of them). It answers 200 with
/// <c>{"accepted":N,"rejected":M}</c> only once the messages are kept for good (stored, or durable in the spill log when it
/// is on: see <see cref="IIngestBuffer"/>); 503 with Retry-After when the buffer is full
/// (nothing of the request taken, so it can be sent again whole); 413 over the body limit; 415 for another
/// Content-Type; 400 with the reason for a body it cannot read. The same endpoints are served over HTTPS on
/// <see cref="HttpSourceOptions.HttpsEndpoints"/>, with the TLS credentials of the TLS listeners. It serves on the
/// Kestrel of the web host it is part of (<see cref="HttpSourceHosting"/>), and binds when it is started.
/// </summary>
public sealed class HttpSource : ISource
{
    /// <summary>The reason a request whose body could not be read is logged under.</summary>
    public const string BadRequest = "bad-request";

    /// <summary>The reason a request refused at the bound of bodies in flight is logged under.</summary>
    public const string BodiesInFlight = "bodies-in-flight";

    /// <summary>The reason a request whose client went away mid-body is logged under.</summary>
    public const string AbortedRequest = "aborted-request";

    /// <summary>The reason a request without an API key is answered 401, counted and logged under.</summary>
    public const string NoApiKey = "no-api-key";

    /// <summary>The reason a request with an API key that is not in force is answered 401, counted and logged under.</summary>
    public const string WrongApiKey = "wrong-api-key";

    /// <summary>The reasons a request is answered 401.</summary>
    public static readonly IReadOnlyList<string> UnauthorizedReasons = [NoApiKey, WrongApiKey];

    /// <summary>The reason a request over its key's rate is answered 429 and logged under.</summary>
    public const string RateLimited = "rate-limited";

    /// <summary>The header a key may come in, instead of <c>Authorization: Bearer</c>.</summary>
    public const string ApiKeyHeader = "X-API-Key";

    // What a 401 says in WWW-Authenticate (RFC 6750, 3): the scheme and realm, and for a key given but not taken, why.
    private const string Challenge = "Bearer realm=\"spillway\"";

    // How long a client answered before its body was read may go on sending it (see AnswerUnreadAsync).
    private static readonly TimeSpan LingerTime = TimeSpan.FromSeconds(2);

    // Kestrel's words (CoreStrings.BadRequest_UnexpectedEndOfRequestContent) for a body that ended before its length.
    private const string EndOfContent = "Unexpected end of request content.";

    private readonly HttpSourceOptions _options;
    private readonly IIngestBuffer _buffer;
    private readonly BadInputLog _badInput;
    private readonly ILogger _logger;
    private readonly RequestBodyReader _reader;
    private readonly ListenerStatusTracker _tracker;
    private readonly IReadOnlyList<IHttpEndpoint> _endpoints;
    private readonly TlsCredentialStore? _tls;
    private readonly ApiKeyStore? _keys;
    private HashSet<IPEndPoint> _httpsBound = [];
    private readonly List<ListenOptions> _adminListens = [];
    private readonly HttpSourceServer _server;
    private volatile bool _listening;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeProvider _time;
    private CancellationToken _abort;
    private long _bodyBytesInFlight;
    private int _state; // 0 new, 1 started, 2 stopping

    /// <summary>
    /// Creates the source on its web host (<see cref="HttpSourceHosting.AddHttpSource"/> registers it); once the host
    /// has started, <see cref="StartAsync"/> binds it.
    /// </summary>
    /// <param name="options">Where to listen and the request limits.</param>
    /// <param name="pipeline">The buffer and decoder the messages go through.</param>
    /// <param name="server">The host's server, which binds when the source starts.</param>
    /// <param name="loggerFactory">Where the listener logs.</param>
    /// <param name="endpoints">More endpoints to serve on the same listener (<c>/metrics</c>, <c>/health</c>).</param>
    /// <param name="tls">The TLS credentials, which <see cref="HttpSourceOptions.HttpsEndpoints"/> need.</param>
    /// <param name="keys">The API keys requests must carry; null lets every request in.</param>
    public HttpSource(
        HttpSourceOptions options, SourcePipeline pipeline, HttpSourceServer server, ILoggerFactory loggerFactory,
        IEnumerable<IHttpEndpoint>? endpoints = null, TlsCredentialStore? tls = null, ApiKeyStore? keys = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        if (options.HttpsEndpoints.Count > 0 && tls is null)
        {
            throw new ArgumentException("HTTPS endpoints need TLS credentials.", nameof(tls));
        }

        _server = server;
        _tls = tls;
        _keys = keys;
        _options = options;
        _buffer = pipeline.Buffer;
        _badInput = pipeline.BadInput;
        _logger = loggerFactory.CreateLogger<HttpSource>();
        _reader = new RequestBodyReader(pipeline.Decoder, pipeline.BadInput, pipeline.Time, options.MaxMessageBytes);
        _tracker = new ListenerStatusTracker(pipeline.Time);
        _time = pipeline.Time;
        _endpoints = [.. endpoints ?? []];
    }

    /// <inheritdoc />
    public Transport Transport => Transport.Http;

    /// <inheritdoc />
    public Transport TransportOf(IPEndPoint endpoint) => _httpsBound.Contains(endpoint) ? Transport.Https : Transport.Http;

    /// <inheritdoc />
    public ListenerStatus Status => _tracker.Current;

    /// <inheritdoc />
    public SourceLimitCounters Limits { get; } = new();

    /// <inheritdoc />
    /// <remarks>Kestrel counts its own: <c>kestrel.active_connections</c> on the <c>Microsoft.AspNetCore.Server.Kestrel</c> meter.</remarks>
    public int OpenConnections => 0;

    /// <summary>
    /// Where the endpoints beside <c>/ingest</c> are served on their own (<see cref="HttpSourceOptions.AdminEndpoints"/>,
    /// with the ports bound), once started; these are not among the endpoints <see cref="StartAsync"/> returns, which take
    /// messages.
    /// </summary>
    public IReadOnlyList<IPEndPoint> AdminBound { get; private set; } = [];

    /// <summary>
    /// Configures the host's Kestrel (see <see cref="HttpSourceHosting.AddHttpSource"/>): the listeners, HTTPS with the
    /// source's credentials, the admin listeners, and the request limits.
    /// </summary>
    internal void Configure(KestrelServerOptions kestrel)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = _options.MaxBodyBytes;
        foreach (var endpoint in _options.Endpoints)
        {
            kestrel.Listen(endpoint);
        }

        foreach (var endpoint in _options.HttpsEndpoints)
        {
            kestrel.Listen(endpoint, ListenHttps);
        }

        foreach (var endpoint in _options.AdminEndpoints)
        {
            kestrel.Listen(endpoint, ListenAdmin);
        }
    }

    /// <summary>
    /// Maps <c>POST /ingest</c>, the other endpoints and their middleware on the host's application (see
    /// <see cref="HttpSourceHosting.MapHttpSource"/>).
    /// </summary>
    internal void Map(WebApplication app)
    {
        app.UseRouting();
        if (_options.AdminEndpoints.Count > 0)
        {
            app.Use(ServeWhereAskedAsync);
        }

        if (_keys is not null)
        {
            app.Use(AuthenticateAsync);
        }

        app.MapPost("/ingest", HandleAsync).WithMetadata(IngestEndpoint);
        foreach (var endpoint in _endpoints)
        {
            endpoint.Map(app);
        }
    }

    /// <inheritdoc />
    /// <remarks>The web host must have started (its server holds the application by then); this binds the listeners.</remarks>
    public async Task<IReadOnlyList<IPEndPoint>> StartAsync(CancellationToken abort)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The HTTP source was already started.");
        }

        if (_options.Endpoints.Count == 0 && _options.HttpsEndpoints.Count == 0 && _options.AdminEndpoints.Count == 0)
        {
            return [];
        }

        _abort = abort;
        try
        {
            await _server.ListenAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new ListenFailedException(
                $"cannot listen on http(s) {string.Join(", ", _options.Endpoints.Concat(_options.HttpsEndpoints).Concat(_options.AdminEndpoints))}: " +
                ex.Message, ex);
        }

        _listening = true;
        _tracker.OnListening();

        // Kestrel puts the port it bound (for port 0, the one the system chose) in each listen's endpoint as it binds.
        AdminBound = [.. _adminListens.Select(l => l.IPEndPoint!)];
        var addresses = _server.Features.GetRequiredFeature<IServerAddressesFeature>().Addresses
            .Select(a => new Uri(a))
            .Select(u => (Https: u.Scheme == Uri.UriSchemeHttps, Endpoint: new IPEndPoint(IPAddress.Parse(u.Host.Trim('[', ']')), u.Port)))
            .Where(a => !AdminBound.Contains(a.Endpoint))
            .ToList();
        _httpsBound = [.. addresses.Where(a => a.Https).Select(a => a.Endpoint)];
        foreach (var endpoint in AdminBound)
        {
            Log.AdminListening(_logger, endpoint);
        }

        return [.. addresses.Select(a => a.Endpoint)];
    }

    private static readonly object AdminKey = new();

    /// <summary>An admin endpoint: plain HTTP/1.1, its connections marked so that a request there is told from one to /ingest.</summary>
    private void ListenAdmin(ListenOptions listen)
    {
        listen.Protocols = HttpProtocols.Http1;
        listen.Use(next => connection =>
        {
            connection.Items[AdminKey] = AdminKey;
            return next(connection);
        });
        _adminListens.Add(listen);
    }

    /// <summary>
    /// With admin endpoints, each listener serves its half alone: <c>/ingest</c> on the others, the rest on the admin
    /// ones; a request for the other half is answered 404 before its body is read, as an unknown path is.
    /// </summary>
    private async Task ServeWhereAskedAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint() is { } endpoint)
        {
            var onAdmin = context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(AdminKey) == true;
            var ingest = endpoint.Metadata.Contains(IngestEndpoint);
            if (onAdmin == ingest)
            {
                await AnswerUnreadAsync(context, StatusCodes.Status404NotFound, onAdmin
                    ? "this listener serves /metrics and /health only: POST /ingest is served on the HTTP and HTTPS listeners"
                    : $"{context.Request.Path} is served on the admin listener only").ConfigureAwait(false);
                return;
            }
        }

        await next(context).ConfigureAwait(false);
    }

    private static readonly object HandshakeKey = new();

    /// <summary>
    /// An HTTPS endpoint: HTTP/1.1 in TLS 1.2 or 1.3, each handshake with the credentials in force when it starts (so a
    /// rotated certificate is served at the next connection), mutual TLS as the credentials say.
    /// </summary>
    private void ListenHttps(ListenOptions listen)
    {
        var tls = _tls!;
        listen.Protocols = HttpProtocols.Http1;
        listen.Use(next => connection => BeforeHandshakeAsync(connection, next, tls));
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            HandshakeTimeout = tls.Options.HandshakeTimeout,
            OnConnection = context => ValueTask.FromResult(((TlsHandshake)context.Connection.Items[HandshakeKey]!)
                .Options(tls.Current, tls.Options.AllowedPeers, context.ClientHelloInfo)),
        });
    }

    /// <summary>
    /// Looks at the first byte before the TLS layer reads it (consuming nothing): a connection that is not TLS (plain
    /// HTTP on the HTTPS port), or that sends nothing within the handshake timeout, is counted and closed here; the
    /// handshake's own refusals are counted by the <see cref="TlsHandshake"/> it leaves for the TLS layer.
    /// </summary>
    private async Task BeforeHandshakeAsync(ConnectionContext connection, ConnectionDelegate next, TlsCredentialStore tls)
    {
        var peer = connection.RemoteEndPoint?.ToString() ?? "unknown";
        var handshake = TlsHandshake.Counted(Limits, _badInput, Transport.Https, peer);
        var input = connection.Transport.Input;
        using var timeout = new CancellationTokenSource(tls.Options.HandshakeTimeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, connection.ConnectionClosed);
        ReadResult result;
        try
        {
            result = await input.ReadAsync(either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !connection.ConnectionClosed.IsCancellationRequested)
        {
            handshake.Refuse(TlsHandshake.Timeout, $"nothing was sent within {tls.Options.HandshakeTimeout.TotalSeconds:0.###} s of connecting: closed");
            return;
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var buffer = result.Buffer;
        if (buffer.IsEmpty)
        {
            input.AdvanceTo(buffer.End);
            return; // connected and closed without a word
        }

        var first = buffer.FirstSpan[0];
        input.AdvanceTo(buffer.Start);
        if (first != TlsHandshakeRecord)
        {
            handshake.Refuse(TlsHandshake.NotTls, $"the connection opened with 0x{first:x2}, not a TLS handshake: plain HTTP on the HTTPS port? Closed");
            return;
        }

        connection.Items[HandshakeKey] = handshake;
        await next(connection).ConfigureAwait(false);
    }

    // Every TLS connection opens with a handshake record (RFC 8446, 5.1): its first byte is the content type 22.
    private const byte TlsHandshakeRecord = 0x16;

    /// <summary>Stops accepting requests and waits for those in flight to be answered (once stored). Idempotent.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) != 1 || !_listening)
        {
            return;
        }

        _tracker.OnStopped();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _server.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose(); // the server is the host's, disposed with it
    }

    // Marks the endpoint that takes messages, which needs a key whenever the source has keys.
    private static readonly object IngestEndpoint = new();

    private static readonly object KeyItem = new();

    /// <summary>
    /// Runs after routing, so that what needs a key is decided by the endpoint matched, not by spelling the path (routing
    /// matches <c>/INGEST</c> and <c>/ingest/</c> too): <c>POST /ingest</c> always, and with
    /// <see cref="HttpSourceOptions.ProtectAdmin"/> every request. The key's secret comes in <c>Authorization: Bearer</c>
    /// or <see cref="ApiKeyHeader"/>; a request without one, or with one that is not in force, is answered 401 before its
    /// body is read.
    /// </summary>
    private async Task AuthenticateAsync(HttpContext context, RequestDelegate next)
    {
        var keys = _keys!;
        if (!_options.ProtectAdmin && context.GetEndpoint()?.Metadata.Contains(IngestEndpoint) != true)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var request = context.Request;
        var transport = request.IsHttps ? Transport.Https : Transport.Http;
        var secret = SecretOf(request.Headers);
        var key = secret.IsEmpty ? null : keys.Find(secret);
        if (key is not null)
        {
            context.Items[KeyItem] = key;
            await next(context).ConfigureAwait(false);
            return;
        }

        var reason = secret.IsEmpty ? NoApiKey : WrongApiKey;
        Limits.Unauthorized(reason);
        _badInput.Report(reason, transport, PeerOf(context), secret.IsEmpty
            ? $"{request.Method} {request.Path} came without an API key: answered 401"
            : $"{request.Method} {request.Path} came with an API key that is not in force (wrong, or removed from the file): answered 401");
        context.Response.Headers.WWWAuthenticate = secret.IsEmpty ? Challenge : Challenge + ", error=\"invalid_token\"";
        await AnswerUnreadAsync(context, StatusCodes.Status401Unauthorized, secret.IsEmpty
            ? $"an API key is needed: send it as Authorization: Bearer KEY or {ApiKeyHeader}: KEY"
            : "the API key is not known: it is wrong, or was removed").ConfigureAwait(false);
    }

    /// <summary>The secret in <c>Authorization: Bearer</c>, else in <see cref="ApiKeyHeader"/>; empty when neither has one.</summary>
    private static ReadOnlySpan<char> SecretOf(IHeaderDictionary headers)
    {
        const string Bearer = "Bearer ";
        var authorization = headers.Authorization;
        if (authorization.Count == 1 && authorization[0] is { } value && value.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
        {
            return value.AsSpan(Bearer.Length).Trim();
        }

        var header = headers[ApiKeyHeader];
        return header.Count == 1 && header[0] is { } key ? key.AsSpan().Trim() : [];
    }

    private static string PeerOf(HttpContext context) =>
        new IPEndPoint(context.Connection.RemoteIpAddress ?? IPAddress.None, context.Connection.RemotePort).ToString();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var transport = request.IsHttps ? Transport.Https : Transport.Http;
        var peer = PeerOf(context);
        var key = context.Items[KeyItem] as ApiKey;
        if (request.ContentLength > _options.MaxBodyBytes)
        {
            await AnswerUnreadAsync(context, StatusCodes.Status413PayloadTooLarge, $"the body is over the limit of {_options.MaxBodyBytes} bytes")
                .ConfigureAwait(false);
            return;
        }

        var mediaType = MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) ? contentType.MediaType.Value : "text/plain";
        Func<ReadOnlySequence<byte>, Transport, string, List<IngestItem>>? read = mediaType?.ToLowerInvariant() switch
        {
            "text/plain" => _reader.ReadText,
            "application/x-ndjson" => _reader.ReadNdjson,
            "application/json" => _reader.ReadJson,
            _ => null,
        };
        if (read is null)
        {
            await AnswerUnreadAsync(context, StatusCodes.Status415UnsupportedMediaType,
                $"Content-Type '{mediaType}' is not taken: send text/plain, application/x-ndjson or application/json").ConfigureAwait(false);
            return;
        }

        // Bodies are held whole until parsed: their bytes in flight are bounded, and a request past the bound is
        // answered before its body is read, so a burst of large bodies cannot take the service's memory.
        var reserved = Math.Min(request.ContentLength ?? _options.MaxBodyBytes, _options.MaxBodyBytes);
        if (Interlocked.Add(ref _bodyBytesInFlight, reserved) > _options.MaxBodyBytesInFlight)
        {
            Interlocked.Add(ref _bodyBytesInFlight, -reserved);
            Limits.RequestRefused();
            _badInput.Report(BodiesInFlight, transport, peer,
                $"request bodies in flight hold their most ({_options.MaxBodyBytesInFlight} bytes): answered 503 before reading this one");
            context.Response.Headers.RetryAfter = RetryAfter;
            await AnswerUnreadAsync(context, StatusCodes.Status503ServiceUnavailable,
                "too many request bodies are being read at once; nothing was taken, send it again later").ConfigureAwait(false);
            return;
        }

        List<IngestItem> items;
        var body = request.BodyReader;
        try
        {
            var result = await body.ReadAsync().ConfigureAwait(false);
            while (!result.IsCompleted)
            {
                body.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                result = await body.ReadAsync().ConfigureAwait(false);
            }

            try
            {
                items = read(result.Buffer, transport, peer);
            }
            finally
            {
                body.AdvanceTo(result.Buffer.End);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await AnswerAsync(context, ex.StatusCode, $"the body is over the limit of {_options.MaxBodyBytes} bytes").ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is BadHttpRequestException { Message: EndOfContent }
            || (ex is IOException or OperationCanceledException && context.RequestAborted.IsCancellationRequested))
        {
            // The client closed its side or went away before the body was whole: nobody reads an answer, and nothing was
            // taken. Kestrel ends such a connection quietly when the exception reaches it; a handler that answers or
            // returns instead leaves Kestrel's reader mid-read, and it logs a warning for the connection.
            _badInput.Report(AbortedRequest, transport, peer, "the client closed the connection before the body was whole; nothing was taken");
            throw;
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel could not read the body (bad chunking, a body shorter than its Content-Length): its 4xx, said once a minute.
            _badInput.Report(BadRequest, transport, peer, ex.Message);
            await AnswerAsync(context, ex.StatusCode, $"the body cannot be read: {ex.Message}; nothing was taken").ConfigureAwait(false);
            return;
        }
        catch (IOException ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            // A chunk size past what Kestrel can count comes wrapped in an IOException, not a BadHttpRequestException.
            _badInput.Report(BadRequest, transport, peer, ex.Message);
            await AnswerAsync(context, StatusCodes.Status400BadRequest, $"the body cannot be read: {ex.Message}; nothing was taken")
                .ConfigureAwait(false);
            return;
        }
        catch (BadRequestException ex)
        {
            _badInput.Report(BadRequest, transport, peer, ex.Message);
            await AnswerAsync(context, StatusCodes.Status400BadRequest, ex.Message).ConfigureAwait(false);
            return;
        }
        finally
        {
            Interlocked.Add(ref _bodyBytesInFlight, -reserved);
        }

        var bytes = items.Sum(i => (long)i.Size);
        if (!_buffer.CouldEverHold(items.Count, bytes))
        {
            await AnswerAsync(context, StatusCodes.Status413PayloadTooLarge,
                $"{items.Count} messages ({bytes} bytes) are more than the buffer can ever hold at once; send them in smaller requests")
                .ConfigureAwait(false);
            return;
        }

        if (key?.Limit is { } limit)
        {
            if (items.Count > limit.Burst)
            {
                await AnswerAsync(context, StatusCodes.Status413PayloadTooLarge,
                    $"{items.Count} messages are more than the key '{key.Name}' may send at once ({limit.Burst}); send them in smaller requests")
                    .ConfigureAwait(false);
                return;
            }

            if (!key.TryTake(items.Count, out var wait))
            {
                _keys!.CountLimited(key);
                _badInput.Report(RateLimited, transport, peer, $"the key '{key.Name}' is over its rate of {limit}: answered 429, nothing of the request taken");
                var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await AnswerAsync(context, StatusCodes.Status429TooManyRequests,
                    $"the key '{key.Name}' is over its rate of {limit}; nothing was taken, send it again in {seconds} s").ConfigureAwait(false);
                return;
            }
        }

        // Who sent it: the key's name when it came with one, else the client certificate's subject under mutual TLS.
        var client = key?.Name ?? context.Connection.ClientCertificate?.Subject;
        var receipt = new Receipt(items.Count);
        foreach (var item in items)
        {
            item.Receipt = receipt;
            item.Client = client;
        }

        if (_options.WhenFull == FullPolicy.Wait)
        {
            var taken = 0;
            try
            {
                foreach (var item in items)
                {
                    await _buffer.WriteAsync(item, _abort).ConfigureAwait(false);
                    taken++;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException && _abort.IsCancellationRequested || ex is InvalidOperationException)
            {
                // A forced stop (or the end of input) while the request waited for room. What was taken is in the buffer and
                // kept; the answer says how much, since a client that sends it all again doubles that part.
                context.Response.Headers.RetryAfter = RetryAfter;
                await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable,
                    $"the service stopped while the request waited for room: {taken} of {items.Count} messages were taken " +
                    $"and are kept; send the last {items.Count - taken} again later").ConfigureAwait(false);
                return;
            }
        }
        else if (!_buffer.TryWriteAll(items))
        {
            _badInput.Report(SourceWriter.BufferFull, transport, peer, "the buffer is full: answered 503, nothing of the request taken");
            context.Response.Headers.RetryAfter = RetryAfter;
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "the buffer is full; nothing was taken, send it again later")
                .ConfigureAwait(false);
            return;
        }

        try
        {
            await receipt.Stored.WaitAsync(_abort).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            context.Response.Headers.RetryAfter = RetryAfter;
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "the service was stopped before the messages were stored")
                .ConfigureAwait(false);
            return;
        }
        catch (IngestRefusedException ex)
        {
            // The spill log's disk refused them (full, or out of descriptors) and rolled them back: none is kept, and
            // the sender may send them all again once it has room.
            _badInput.Report(SourceWriter.BufferFull, transport, peer, "the spill log refused to write the request: answered 503, nothing of it kept");
            context.Response.Headers.RetryAfter = RetryAfter;
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "the messages could not be kept, nothing was taken: " + ex.Message)
                .ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (receipt.Stored.IsFaulted)
        {
            // The spill log could not make them durable (its disk failed): the sender must keep them and send again.
            await AnswerAsync(context, StatusCodes.Status503ServiceUnavailable, "the messages could not be kept: " + ex.Message)
                .ConfigureAwait(false);
            return;
        }

        if (key is not null)
        {
            _keys!.CountTaken(key, items.Count);
        }

        var rejected = items.Count(i => i is Reject);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, new IngestResponse(items.Count - rejected, rejected),
            HttpJsonContext.Web.IngestResponse, context.RequestAborted).ConfigureAwait(false);
    }

    private string RetryAfter => ((int)_options.RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Answers before the body is read, and closes the connection after: Kestrel would otherwise read the unread body to
    /// its end to reach the next request, and a client that never sends it would hold the connection (and a stop) open.
    /// </summary>
    private async Task AnswerUnreadAsync(HttpContext context, int status, string error)
    {
        context.Response.Headers.Connection = "close";
        await AnswerAsync(context, status, error).ConfigureAwait(false);
        await context.Response.CompleteAsync().ConfigureAwait(false);
        if (context.Request.ContentLength > _options.MaxBodyBytes)
        {
            return; // a body over Kestrel's own limit is one it will not read either: it closes the connection itself
        }

        // A lingering close: what the client still sends is read and dropped for a while, so that closing with its bytes
        // unread does not reset the connection before it has read the answer. A body that does not end by then, or by a
        // stop, is cut off: Kestrel would otherwise wait for it to the end, and hold a stop for as long.
        using var linger = new CancellationTokenSource(LingerTime, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(linger.Token, _stopping.Token, context.RequestAborted);
        try
        {
            while (true)
            {
                var result = await context.Request.BodyReader.ReadAsync(either.Token).ConfigureAwait(false);
                context.Request.BodyReader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            context.Abort(); // the body did not come in time, or the service is stopping: cut it off
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException)
        {
            // The rest of the body was malformed or the client went away: Kestrel closes the connection itself.
        }
    }

    private static async Task AnswerAsync(HttpContext context, int status, string error)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, new ErrorResponse(error), HttpJsonContext.Web.ErrorResponse,
            context.RequestAborted).ConfigureAwait(false);
    }
}
