using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Tls;

namespace Spillway.Tcp;

/// <summary>
/// One accepted connection: a fill loop moves the stream's bytes (the socket's, or under TLS the decrypted ones) into a
/// pipe, a read loop frames them and writes the items into the buffer. When the buffer is full (and the policy is to
/// wait) the read loop waits, the pipe fills and pauses the fill loop, the socket is no longer read, and TCP's window
/// closes on the sender: backpressure with nothing dropped.
/// </summary>
internal sealed class TcpConnection : IAsyncDisposable
{
    /// <summary>The reason a connection closed for idleness is logged under.</summary>
    public const string IdleTimeoutReason = "idle-timeout";

    private const int ReadSize = 16 * 1024;

    // Every TLS connection opens with a handshake record (RFC 8446, 5.1): its first byte is the content type 22.
    private const byte TlsHandshakeRecord = 0x16;

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
    private readonly TlsCredentialStore? _tls;
    private readonly Transport _transport;
    private Stream _stream;

    public TcpConnection(
        Socket socket, SourceWriter writer, FrameDecoder decoder, TcpSourceOptions options, TimeProvider time, ILogger logger,
        SourceLimitCounters limits, BadInputLog badInput, TlsCredentialStore? tls)
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
        _tls = tls;
        _transport = tls is null ? Transport.Tcp : Transport.Tls;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Peer = socket.RemoteEndPoint?.ToString() ?? "unknown";
    }

    public string Peer { get; }

    /// <summary>Under mutual TLS, the subject of the client's certificate once the handshake is done.</summary>
    public string? ClientSubject { get; private set; }

    /// <summary>Runs the connection until the peer closes it, <paramref name="stop"/> is signalled, or <paramref name="abort"/>.</summary>
    /// <param name="stop">Stop: read what the sender still sends until it closes or falls quiet, finish the frames in hand, close.</param>
    /// <param name="abort">Give up at once: items not yet in the buffer are not accepted.</param>
    public async Task RunAsync(CancellationToken stop, CancellationToken abort)
    {
        try
        {
            if (_tls is not null && !await HandshakeAsync(_tls, stop).ConfigureAwait(false))
            {
                return;
            }

            // The pipe must hold a whole frame plus one read, or a frame larger than the pause threshold would deadlock.
            var pause = _framer.MaxMessageBytes + 4L * ReadSize;
            var pipe = new Pipe(new PipeOptions(
                pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, minimumSegmentSize: ReadSize, useSynchronizationContext: false));
            Log.ConnectionOpened(_logger, Peer);
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
            await DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Closes the connection (the TLS stream and the socket under it); <see cref="RunAsync"/> does when it ends.</summary>
    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    /// <summary>
    /// The server side of the TLS handshake, within the handshake timeout. False when it was refused (counted by reason
    /// and said once a minute per reason), timed out, or the service is stopping: the connection is then closed.
    /// </summary>
    private async Task<bool> HandshakeAsync(TlsCredentialStore tls, CancellationToken stop)
    {
        var handshake = TlsHandshake.Counted(_limits, _badInput, _transport, Peer);
        using var timeout = new CancellationTokenSource(tls.Options.HandshakeTimeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, timeout.Token);
        try
        {
            // A look at the first byte, left in the socket: a plain-text sender on the TLS port is told apart from a bad handshake.
            var first = new byte[1];
            if (await _socket.ReceiveAsync(first, SocketFlags.Peek, either.Token).ConfigureAwait(false) == 0)
            {
                return false; // connected and closed without a word: nothing to refuse
            }

            if (first[0] != TlsHandshakeRecord)
            {
                handshake.Refuse(TlsHandshake.NotTls, $"the connection opened with 0x{first[0]:x2}, not a TLS handshake: plain text on the TLS port? Closed");
                return false;
            }

            var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
            _stream = ssl;
            await ssl.AuthenticateAsServerAsync(
                (_, hello, _, _) => ValueTask.FromResult(handshake.Options(tls.Current, tls.Options.AllowedPeers, hello)),
                null, either.Token).ConfigureAwait(false);
            ClientSubject = handshake.ClientSubject;
            return true;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            handshake.Refuse(TlsHandshake.Timeout,
                $"the handshake was not done within {tls.Options.HandshakeTimeout.TotalSeconds:0.###} s of connecting: closed");
            return false;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return false; // stopping: a connection that had sent nothing yet holds nothing to read
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or SocketException)
        {
            handshake.Refuse(TlsHandshake.Failed, $"the TLS handshake failed: {(ex.InnerException ?? ex).Message}");
            return false;
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
                    read = await _stream.ReadAsync(memory, stop).ConfigureAwait(false);
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
        catch (IOException ex)
        {
            // A reset (or under TLS a broken record) is the peer's doing, not a fault here: what arrived is kept and a
            // partial frame becomes a reject.
            Log.ConnectionReset(_logger, Peer, ex.InnerException is SocketException socket ? socket.SocketErrorCode.ToString() : ex.Message);
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
            await _stream.ReadAsync(Memory<byte>.Empty, stop).ConfigureAwait(false);
            return true;
        }

        using var idle = new CancellationTokenSource(_idleTimeout, _time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(stop, idle.Token);
        try
        {
            await _stream.ReadAsync(Memory<byte>.Empty, either.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            _limits.ClosedIdle();
            _badInput.Report(IdleTimeoutReason, _transport, Peer, $"nothing received for {_idleTimeout.TotalSeconds:0.###} s: closed");
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
                read = await _stream.ReadAsync(writer.GetMemory(ReadSize), quiet.Token).ConfigureAwait(false);
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
                        if (_decoder.Decode(frame, _transport, Peer, _framer.MaxMessageBytes) is { } item)
                        {
                            item.Client = ClientSubject;
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
