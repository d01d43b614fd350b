using System.Net;
using System.Net.Sockets;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway;

/// <summary>
/// What the socket sources (TCP and UDP) share: bind every endpoint or none, run one loop per socket, and stop in
/// order, once. A subclass says how to make a bound socket, what a socket's loop does, and what stopping involves
/// beyond cancelling <see cref="StopToken"/> and awaiting the loops.
/// </summary>
public abstract class SocketSource : ISource
{
    private readonly IReadOnlyList<IPEndPoint> _endpoints;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _loops = [];
    private int _state; // 0 new, 1 started, 2 stopping

    /// <summary>Creates the source for the given endpoints, writing to the pipeline's buffer as the policy says.</summary>
    protected SocketSource(Transport transport, IReadOnlyList<IPEndPoint> endpoints, FullPolicy whenFull, SourcePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pipeline);
        Transport = transport;
        _endpoints = endpoints;
        Writer = pipeline.Writer(whenFull, transport);
        Decoder = pipeline.Decoder;
        Time = pipeline.Time;
        Tracker = new ListenerStatusTracker(pipeline.Time);
        BadInput = pipeline.BadInput;
    }

    /// <inheritdoc />
    public Transport Transport { get; }

    /// <inheritdoc />
    public ListenerStatus Status => Tracker.Current;

    /// <inheritdoc />
    public virtual int OpenConnections => 0;

    /// <inheritdoc />
    public SourceLimitCounters Limits { get; } = new();

    /// <summary>Where input turned away is logged, once per reason per minute.</summary>
    protected BadInputLog BadInput { get; }

    /// <summary>Where the loops report failures and recoveries.</summary>
    protected ListenerStatusTracker Tracker { get; }

    /// <summary>Hands decoded items to the buffer, waiting or dropping when it is full.</summary>
    protected SourceWriter Writer { get; }

    /// <summary>Turns frames into messages or rejects.</summary>
    protected FrameDecoder Decoder { get; }

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>The endpoints actually bound (with the ports the system chose for port 0), once started.</summary>
    public IReadOnlyList<IPEndPoint> BoundEndpoints { get; private set; } = [];

    /// <summary>Cancelled when the source is told to stop.</summary>
    protected CancellationToken StopToken => _stop.Token;

    /// <summary>Cancelled on a forced stop: waits for buffer room give up, and their items are not accepted.</summary>
    protected CancellationToken AbortToken { get; private set; }

    /// <summary>The bound sockets.</summary>
    protected IReadOnlyList<Socket> Sockets => _sockets;

    /// <summary>Binds every endpoint and starts a loop on each. Fails, binding nothing, if any endpoint cannot be bound.</summary>
    /// <param name="abort">Cancels waits for buffer room on a forced stop.</param>
    /// <exception cref="ListenFailedException">An endpoint cannot be bound (in use, not an address of this host, no permission).</exception>
    public IReadOnlyList<IPEndPoint> Start(CancellationToken abort)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException($"The {Transport.ToName()} source was already started.");
        }

        AbortToken = abort;
        try
        {
            foreach (var endpoint in _endpoints)
            {
                try
                {
                    _sockets.Add(Bind(endpoint));
                }
                catch (SocketException ex)
                {
                    throw new ListenFailedException(Transport.ToName(), endpoint, ex);
                }
            }
        }
        catch
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            throw;
        }

        BoundEndpoints = [.. _sockets.Select(s => (IPEndPoint)s.LocalEndPoint!)];
        Tracker.OnListening();
        foreach (var socket in _sockets)
        {
            _loops.Add(RunAsync(socket));
        }

        return BoundEndpoints;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<IPEndPoint>> StartAsync(CancellationToken abort) => Task.FromResult(Start(abort));

    /// <summary>
    /// Stops the source and returns once it has handed its last item to the buffer (which may wait for the writers to
    /// make room). Idempotent: a second call returns at once.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) != 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        Tracker.OnStopped();
        OnStopRequested();
        await Task.WhenAll(_loops).ConfigureAwait(false);
        await WhenStoppedAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the source if it is running (see <see cref="StopAsync"/>) and releases its sockets.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Makes a socket bound to <paramref name="endpoint"/> (and listening, for a stream socket).</summary>
    /// <exception cref="SocketException">The endpoint cannot be bound.</exception>
    protected abstract Socket Bind(IPEndPoint endpoint);

    /// <summary>The loop of one socket; it ends after <see cref="StopToken"/> is cancelled.</summary>
    protected abstract Task RunAsync(Socket socket);

    /// <summary>Called once <see cref="StopToken"/> is cancelled, before the loops are awaited.</summary>
    protected virtual void OnStopRequested()
    {
    }

    /// <summary>Awaited after the loops have ended: whatever else must finish before the source is stopped.</summary>
    protected virtual Task WhenStoppedAsync() => Task.CompletedTask;
}
