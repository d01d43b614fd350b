using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Tls;

namespace Spillway.Tcp;

/// <summary>
/// Listens on TCP endpoints, plain or in TLS (RFC 5425: the same framings inside the TLS stream), and feeds every
/// connection's frames into the buffer. Stopping closes the listeners at
/// once; each open connection is read until its sender closes it or falls quiet (at most
/// <see cref="TcpSourceOptions.StopReadTimeout"/>), its frames are finished, and stopping returns once every
/// connection has handed its last item to the buffer.
/// </summary>
public sealed class TcpSource : SocketSource
{
    private readonly TcpSourceOptions _options;
    private readonly ILogger _logger;
    private readonly TlsCredentialStore? _tls;
    private readonly ConcurrentDictionary<TcpConnection, Task> _connections = new();

    /// <summary>Creates the source; <see cref="SocketSource.Start"/> binds it.</summary>
    /// <param name="options">Where to listen and the connection limits.</param>
    /// <param name="pipeline">The buffer and decoder the messages go through.</param>
    /// <param name="logger">Where the connections log.</param>
    /// <param name="tls">The credentials of syslog over TLS (source <c>tls</c>); null for plain TCP (source <c>tcp</c>).</param>
    public TcpSource(TcpSourceOptions options, SourcePipeline pipeline, ILogger<TcpSource> logger, TlsCredentialStore? tls = null)
        : base(tls is null ? Transport.Tcp : Transport.Tls, options?.Endpoints ?? throw new ArgumentNullException(nameof(options)),
            options.WhenFull, pipeline)
    {
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;
        _tls = tls;
    }

    /// <summary>The reason a connection closed at the listener's limit is logged under.</summary>
    public const string ConnectionLimit = "connection-limit";

    /// <summary>Connections open now.</summary>
    public override int OpenConnections => _connections.Count;

    /// <inheritdoc />
    protected override Socket Bind(IPEndPoint endpoint)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(endpoint);
            listener.Listen(_options.Backlog);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override Task RunAsync(Socket socket) => AcceptLoopAsync(socket);

    /// <summary>Closes the listeners, so no connection is accepted after the stop.</summary>
    protected override void OnStopRequested()
    {
        foreach (var listener in Sockets)
        {
            listener.Dispose();
        }
    }

    /// <summary>
    /// Waits for every connection, each read to its end (see <see cref="TcpSourceOptions.StopReadTimeout"/>), to put
    /// its last frame into the buffer.
    /// </summary>
    protected override Task WhenStoppedAsync() => Task.WhenAll(_connections.Values);

    private async Task AcceptLoopAsync(Socket listener)
    {
        var endpoint = listener.LocalEndPoint!;
        var failures = 0;
        var failureLog = new LogPacer(Time);
        var backoff = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
        while (!StopToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(StopToken).ConfigureAwait(false);
                failures = 0;
                Tracker.OnSuccess();
            }
            catch (Exception ex) when (StopToken.IsCancellationRequested && ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Such as running out of file descriptors: keep the listener, wait, and try again.
                var delay = backoff.Delay(++failures);
                Tracker.OnFailure(ex);
                if (failureLog.Due())
                {
                    Log.AcceptFailed(_logger, ex, endpoint, failures, delay);
                }

                try
                {
                    await Task.Delay(delay, Time, StopToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (_connections.Count >= _options.MaxConnections)
            {
                // At the limit: accepted (so the kernel's queue does not fill with senders that wait for nothing) and closed.
                var peer = socket.RemoteEndPoint?.ToString() ?? "unknown";
                socket.Dispose();
                Limits.ConnectionRefused();
                BadInput.Report(ConnectionLimit, Transport, peer,
                    $"the listener {endpoint} holds its most connections ({_options.MaxConnections}): this one was closed at once");
                continue;
            }

            socket.NoDelay = true;
            var connection = new TcpConnection(socket, Writer, Decoder, _options, Time, _logger, Limits, BadInput, _tls);
            var run = RunConnectionAsync(connection);
            _connections.TryAdd(connection, run);
            if (run.IsCompleted)
            {
                _connections.TryRemove(connection, out _); // it ended before it was added, so its own removal missed
            }
        }
    }

    private async Task RunConnectionAsync(TcpConnection connection)
    {
        // Yield first so the accept loop is not held up by this connection's first reads.
        await Task.Yield();
        try
        {
            await connection.RunAsync(StopToken, AbortToken).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
        }
    }
}
