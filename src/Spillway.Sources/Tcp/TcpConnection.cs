using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Tcp;

/// <summary>
/// One accepted connection: a fill loop moves socket bytes into a pipe, a read loop frames them and writes the
/// items into the buffer. When the buffer is full the read loop waits, the pipe fills and pauses the fill loop,
/// the socket is no longer read, and TCP's window closes on the sender: backpressure with nothing dropped.
/// </summary>
internal sealed class TcpConnection
{
    private const int ReadSize = 16 * 1024;

    private readonly Socket _socket;
    private readonly IngestBuffer _buffer;
    private readonly FrameDecoder _decoder;
    private readonly Framer _framer;
    private readonly ILogger _logger;

    public TcpConnection(Socket socket, IngestBuffer buffer, FrameDecoder decoder, int maxMessageBytes, ILogger logger)
    {
        _socket = socket;
        _buffer = buffer;
        _decoder = decoder;
        _framer = new Framer(maxMessageBytes);
        _logger = logger;
        Peer = socket.RemoteEndPoint?.ToString() ?? "unknown";
    }

    public string Peer { get; }

    /// <summary>Runs the connection until the peer closes it, <paramref name="stop"/> is signalled, or <paramref name="abort"/>.</summary>
    /// <param name="stop">Stop reading: take what has already arrived, finish the frames in hand, then close.</param>
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
            while (true)
            {
                int read;
                try
                {
                    read = await _socket.ReceiveAsync(writer.GetMemory(ReadSize), SocketFlags.None, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    await DrainArrivedAsync(writer).ConfigureAwait(false);
                    return;
                }

                if (read == 0)
                {
                    return; // the peer closed its side
                }

                writer.Advance(read);
                var flush = await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                if (flush.IsCompleted)
                {
                    return; // the read loop has ended
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
    /// On stop, takes the bytes that had already arrived (as many as the socket held when stop came, no more, so
    /// a sender that keeps sending cannot hold the stop up): everything received before the stop is accepted.
    /// </summary>
    private async Task DrainArrivedAsync(PipeWriter writer)
    {
        var pending = _socket.Available;
        while (pending > 0)
        {
            var read = await _socket.ReceiveAsync(writer.GetMemory(Math.Min(pending, ReadSize)), SocketFlags.None).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            pending -= read;
            writer.Advance(read);
            var flush = await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            if (flush.IsCompleted)
            {
                return;
            }
        }
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
                        var item = _decoder.Decode(frame, Transport.Tcp, Peer, _framer.MaxMessageBytes);
                        if (item is not null)
                        {
                            await _buffer.WriteAsync(item, abort).ConfigureAwait(false);
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
