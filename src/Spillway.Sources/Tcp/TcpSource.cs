using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Tcp;

/// <summary>
/// Listens on TCP endpoints and feeds every connection's frames into the buffer. Stopping closes the listeners at
/// once; each open connection is read until its sender closes it or falls quiet (at most
/// <see cref="TcpSourceOptions.StopReadTimeout"/>), its frames are finished, and stopping returns once every
/// connection has handed its last item to the buffer.
/// </summary>
public sealed class TcpSource : ISource
{
    private readonly TcpSourceOptions _options;
    private readonly SourceWriter _writer;
    private readonly FrameDecoder _decoder;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpConnection, Task> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private CancellationToken _abort;
    private int _state; // 0 new, 1 started, 2 stopping

    /// <summary>Creates the source; <see cref="Start"/> binds it.</summary>
    public TcpSource(
        TcpSourceOptions options, IngestBuffer buffer, FrameDecoder decoder, IngestStats stats, BadInputLog badInput, TimeProvider time,
        ILogger<TcpSource> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(badInput);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _writer = new SourceWriter(buffer, stats, badInput, options.WhenFull, Transport.Tcp);
        _decoder = decoder;
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public Transport Transport => Transport.Tcp;

    /// <summary>The endpoints actually bound (with the ports the system chose for port 0), once started.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndpoints { get; private set; } = [];

    /// <summary>Connections open now.</summary>
    public int OpenConnections => _connections.Count;

    /// <summary>Binds every endpoint and starts accepting. Fails, binding nothing, if any endpoint cannot be bound.</summary>
    /// <param name="abort">Cancels the connections' waits for buffer room on a forced stop.</param>
    /// <exception cref="ListenFailedException">An endpoint cannot be bound (in use, not an address of this host, no permission).</exception>
    public IReadOnlyList<IPEndPoint> Start(CancellationToken abort)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The TCP source was already started.");
        }

        _abort = abort;
        try
        {
            foreach (var endpoint in _options.Endpoints)
            {
                var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _listeners.Add(listener);
                try
                {
                    listener.Bind(endpoint);
                    listener.Listen(_options.Backlog);
                }
                catch (SocketException ex)
                {
                    throw new ListenFailedException("tcp", endpoint, ex);
                }
            }
        }
        catch
        {
            foreach (var listener in _listeners)
            {
                listener.Dispose();
            }

            throw;
        }

        BoundEndpoints = [.. _listeners.Select(l => (IPEndPoint)l.LocalEndPoint!)];
        foreach (var listener in _listeners)
        {
            _acceptLoops.Add(AcceptLoopAsync(listener));
        }

        return BoundEndpoints;
    }

    /// <summary>
    /// Stops accepting, reads each connection to its end (see <see cref="TcpSourceOptions.StopReadTimeout"/>), and
    /// waits until every connection has put its last frame into the buffer (which may wait for the writers to make
    /// room). Idempotent.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);
        await Task.WhenAll(_connections.Values).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<IPEndPoint>> StartAsync(CancellationToken abort) => Task.FromResult(Start(abort));

    /// <summary>Stops the source if it is running (see <see cref="StopAsync"/>) and releases it.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        var endpoint = listener.LocalEndPoint!;
        var failures = 0;
        var backoff = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
                failures = 0;
            }
            catch (Exception ex) when (_stop.IsCancellationRequested && ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Such as running out of file descriptors: keep the listener, wait, and try again.
                var delay = backoff.Delay(++failures);
                Log.AcceptFailed(_logger, ex, endpoint, delay);
                try
                {
                    await Task.Delay(delay, _time, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            socket.NoDelay = true;
            var connection = new TcpConnection(socket, _writer, _decoder, _options, _time, _logger);
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
            await connection.RunAsync(_stop.Token, _abort).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
        }
    }
}
