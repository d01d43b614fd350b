using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Tcp;

/// <summary>
/// One accepted connection: a fill loop moves socket bytes into a pipe, a read loop frames them and writes the
/// items into the buffer. When the buffer is full (and the policy is to wait) the read loop waits, the pipe fills and pauses the fill loop,
/// the socket is no longer read, and TCP's window closes on the sender: backpressure with nothing dropped.
/// </summary>
internal sealed class TcpConnection
{
    /// <summary>The reason a connection closed for idleness is logged under.</summary>
    public const string IdleTimeoutReason = "idle-timeout";

    private const int ReadSize = 16 * 1024;

    private readonly Socket _socket;
    private readonly SourceWriter _writer;
    private readonly FrameDecoder _decoder;
    private readonly Framer _framer;
    private readonly TimeSpan _stopReadTimeout;
    private readonly TimeSpan _stopQuietPeriod;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _idleTimeout;
    private readonly SourceLimitCounters _limits;
    private readonly BadInputLog _badInput;

    public TcpConnection(
        Socket socket, SourceWriter writer, FrameDecoder decoder, TcpSourceOptions options, TimeProvider time, ILogger logger,
        SourceLimitCounters limits, BadInputLog badInput)
    {
        _idleTimeout = options.IdleTimeout;
        _limits = limits;
        _badInput = badInput;
        _socket = socket;
        _writer = writer;
        _decoder = decoder;
        _framer = new Framer(options.MaxMessageBytes);
        _stopReadTimeout = options.StopReadTimeout;
        _stopQuietPeriod = options.StopQuietPeriod;
        _time = time;
        _logger = logger;
        Peer = socket.RemoteEndPoint?.ToString() ?? "unknown";
    }

    public string Peer { get; }

    /// <summary>Runs the connection until the peer closes it, <paramref name="stop"/> is signalled, or <paramref name="abort"/>.</summary>
    /// <param name="stop">Stop: read what the sender still sends until it closes or falls quiet, finish the frames in hand, close.</param>
    /// <param name="abort">Give up at once: items not yet in the buffer are not accepted.</param>
    public async Task RunAsync(CancellationToken stop, CancellationToken abort)
    {
        // The pipe must hold a whole frame plus one read, or a frame larger than the pause threshold would deadlock.
        var pause = _framer.MaxMessageBytes + 4L * ReadSize;
        var pipe = new Pipe(new PipeOptions(
            pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, minimumSegmentSize: ReadSize, useSynchronizationContext: false));
        Log.ConnectionOpened(_logger, Peer);
        try
        {
            await Task.WhenAll(FillAsync(pipe.Writer, stop), ReadAsync(pipe.Reader, abort)).ConfigureAwait(false);
            Log.ConnectionClosed(_logger, Peer);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            // Forced stop: whatever had not reached the buffer was never accepted, and the exit summary counts the rest.
        }
        catch (Exception ex)
        {
            Log.ConnectionFailed(_logger, ex, Peer);
        }
        finally
        {
            _socket.Dispose();
        }
    }

    private async Task FillAsync(PipeWriter writer, CancellationToken stop)
    {
        try
        {
            var drained = true;
            while (true)
            {
                int read;
                try
                {
                    // Once the socket is drained, wait for data with no buffer: an idle connection then holds none.
                    if (drained && !await WaitForDataAsync(stop).ConfigureAwait(false))
                    {
                        return; // idle for its timeout: closed, and a frame in hand becomes a truncated reject
                    }

                    var memory = writer.GetMemory(ReadSize);
                    read = await _socket.ReceiveAsync(memory, SocketFlags.None, stop).ConfigureAwait(false);
                    drained = read < memory.Length;
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    await ReadAfterStopAsync(writer).ConfigureAwait(false);
                    return;
                }

                if (read == 0 || !await CommitAsync(writer, read).ConfigureAwait(false))
                {
                    return; // the peer closed its side, or the read loop has ended
                }
            }
        }
        catch (SocketException ex)
        {
            // A reset is the peer's doing, not a fault here: what arrived is kept and a partial frame becomes a reject.
            Log.ConnectionReset(_logger, Peer, ex.SocketErrorCode);
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A zero-byte receive: completes when data (or the peer's close) is there, holding no buffer meanwhile. False when
    /// the idle timeout passed first.
    /// </summary>
    private async ValueTask<bool> WaitForDataAsync(CancellationToken stop)
    {
        if (_idleTimeout == TimeSpan.Zero)
        {
            await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, stop).ConfigureAwait(false);
            return true;
        }

        using var idle = new CancellationTokenSource(_idleTimeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, idle.Token);
        try
        {
            await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, either.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            _limits.ClosedIdle();
            _badInput.Report(IdleTimeoutReason, Transport.Tcp, Peer, $"nothing received for {_idleTimeout.TotalSeconds:0.###} s: closed");
            return false;
        }
    }

    /// <summary>
    /// After stop, reads on until the sender closes the connection, falls quiet, or the stop's read time is spent.
    /// A sender that wrote everything and closed has its last bytes in flight (in our receive queue or still in its
    /// send queue, waiting for our window): they are taken, so what such a sender wrote is stored. A sender that
    /// keeps sending is cut off at the deadline, and a connection left open and idle costs only the quiet period.
    /// </summary>
    private async Task ReadAfterStopAsync(PipeWriter writer)
    {
        var started = _time.GetTimestamp();
        while (true)
        {
            var remaining = _stopReadTimeout - _time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            using var quiet = new CancellationTokenSource(remaining < _stopQuietPeriod ? remaining : _stopQuietPeriod, _time);
            int read;
            try
            {
                read = await _socket.ReceiveAsync(writer.GetMemory(ReadSize), SocketFlags.None, quiet.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (quiet.IsCancellationRequested)
            {
                return;
            }

            if (read == 0 || !await CommitAsync(writer, read).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>Hands bytes to the read loop, waiting while it is behind (backpressure). False when it has ended.</summary>
    private static async ValueTask<bool> CommitAsync(PipeWriter writer, int read)
    {
        writer.Advance(read);
        var flush = await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        return !flush.IsCompleted;
    }

    private async Task ReadAsync(PipeReader reader, CancellationToken abort)
    {
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (_framer.TryRead(ref buffer, result.IsCompleted, out var frame))
                    {
                        if (_decoder.Decode(frame, Transport.Tcp, Peer, _framer.MaxMessageBytes) is { } item)
                        {
                            await _writer.WriteAsync(item, Peer, abort).ConfigureAwait(false);
                        }
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }

                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        finally
        {
            // Lets a fill loop paused on a full pipe see that nobody will read it.
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }
}
