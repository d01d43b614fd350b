using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Spillway.Bench;

/// <summary>How <see cref="TcpSender"/> frames each message.</summary>
internal enum SendFraming
{
    /// <summary>Each message ends with LF.</summary>
    Lf,

    /// <summary>RFC 6587 octet counting: <c>LENGTH SP MESSAGE</c>.</summary>
    Octet,
}

/// <summary>
/// What a send did: messages and bytes sent, when the first byte went (a <see cref="TimeProvider.System"/> timestamp),
/// how long it took from then to the last, and what failed.
/// </summary>
internal sealed record SendReport(long Messages, long Bytes, int Connections, long StartedAt, TimeSpan Elapsed, IReadOnlyList<string> Errors);

/// <summary>
/// A TCP client for <c>send</c> and <c>bench</c>: the lines of a stream byte for byte, or generated messages that each
/// carry a sequence number (<c>seq=0000000042 ...</c>), message <c>i</c> on connection <c>i % C</c>. Frames are
/// collected into 64 KiB writes, so the sender costs little next to the service it measures. With
/// <paramref name="tls"/> each connection is TLS (RFC 5425), its handshake made before the first byte is timed.
/// </summary>
internal sealed class TcpSender(IPEndPoint endpoint, SendFraming framing, SslClientAuthenticationOptions? tls = null)
{
    private const int FlushAt = 64 * 1024;

    /// <summary>
    /// TLS to <paramref name="targetHost"/> (the name the server's certificate must carry), trusting
    /// <paramref name="roots"/> alone: no system store, no revocation lookups, no downloads.
    /// </summary>
    public static SslClientAuthenticationOptions TrustingOnly(X509Certificate2Collection roots, string targetHost)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck, DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(roots);
        return new SslClientAuthenticationOptions { TargetHost = targetHost, CertificateChainPolicy = policy };
    }

    /// <summary>
    /// Sends <paramref name="count"/> generated messages, numbered from <paramref name="firstSequence"/>. Every
    /// connection is made first, so <see cref="SendReport.Elapsed"/> runs from the first byte sent to the last, not from
    /// the first handshake.
    /// </summary>
    public async Task<SendReport> SendGeneratedAsync(long firstSequence, long count, int size, int connections, CancellationToken cancellationToken)
    {
        var opened = await Task.WhenAll(Enumerable.Range(0, connections).Select(c => TryConnectAsync(c, cancellationToken)));
        try
        {
            var started = TimeProvider.System.GetTimestamp();
            var results = await Task.WhenAll(opened.Select((connected, c) => connected.Connection is { } connection
                ? SendConnectionAsync(connection, c, connections, firstSequence, count, size, cancellationToken)
                : Task.FromResult(new Result { Error = connected.Error })));
            return Report(results, connections, started);
        }
        finally
        {
            foreach (var (connection, _) in opened)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                }
            }
        }
    }

    /// <summary>Sends each line of the input as one message, byte for byte (no decoding: invalid UTF-8 goes as it is).</summary>
    public async Task<SendReport> SendLinesAsync(Stream input, CancellationToken cancellationToken)
    {
        var result = new Result();
        var reader = PipeReader.Create(input);
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            var (connection, error) = await TryConnectAsync(0, cancellationToken);
            if (connection is null)
            {
                result.Error = error;
                return Report([result], 1, TimeProvider.System.GetTimestamp());
            }

            await using (connection)
            {
                started = TimeProvider.System.GetTimestamp();
                var buffer = new FrameBuffer(framing);
                while (true)
                {
                    var read = await reader.ReadAsync(cancellationToken);
                    var lines = read.Buffer;
                    while (TryReadLine(ref lines, read.IsCompleted, out var line))
                    {
                        buffer.Add(line.IsSingleSegment ? line.FirstSpan : line.ToArray());
                        result.Messages++;
                        if (buffer.Length >= FlushAt)
                        {
                            result.Bytes += await buffer.FlushAsync(connection.Stream, cancellationToken);
                        }
                    }

                    reader.AdvanceTo(lines.Start, lines.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }

                result.Bytes += await buffer.FlushAsync(connection.Stream, cancellationToken);
                await connection.ShutdownAsync();
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            result.Error = ex.Message;
        }
        finally
        {
            await reader.CompleteAsync();
        }

        return Report([result], 1, started);
    }

    private static SendReport Report(Result[] results, int connections, long started) =>
        new(results.Sum(r => r.Messages), results.Sum(r => r.Bytes), connections, started, TimeProvider.System.GetElapsedTime(started),
            [.. results.Select(r => r.Error).OfType<string>()]);

    /// <summary>A line without its LF (and CR); at the end of input, the last line even without an LF.</summary>
    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, bool isFinal, out ReadOnlySequence<byte> line)
    {
        var lf = buffer.PositionOf((byte)'\n');
        if (lf is null)
        {
            line = buffer;
            if (!isFinal || buffer.IsEmpty)
            {
                return false;
            }

            buffer = buffer.Slice(buffer.End);
            return true;
        }

        line = buffer.Slice(0, lf.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, lf.Value));
        if (!line.IsEmpty && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
        {
            line = line.Slice(0, line.Length - 1);
        }

        return true;
    }

    private async Task<Result> SendConnectionAsync(
        Connection stream, int connection, int connections, long firstSequence, long count, int size, CancellationToken cancellationToken)
    {
        var result = new Result();
        try
        {
            var generator = new MessageGenerator(size);
            var buffer = new FrameBuffer(framing);
            for (long i = connection; i < count; i += connections)
            {
                buffer.Add(generator.Next(firstSequence + i));
                result.Messages++;
                if (buffer.Length >= FlushAt)
                {
                    result.Bytes += await buffer.FlushAsync(stream.Stream, cancellationToken);
                }
            }

            result.Bytes += await buffer.FlushAsync(stream.Stream, cancellationToken);
            await stream.ShutdownAsync();
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            result.Error = $"connection {connection}: {ex.Message}";
        }

        return result;
    }

    private async Task<(Connection? Connection, string? Error)> TryConnectAsync(int connection, CancellationToken cancellationToken)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
            stream = new NetworkStream(socket, ownsSocket: false);
            if (tls is not null)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(tls, cancellationToken);
            }

            return (new Connection(socket, stream), null);
        }
        catch (Exception ex) when (ex is SocketException or IOException or AuthenticationException)
        {
            await DisposeAsync(socket, stream);
            return (null, $"connection {connection}: {(ex is AuthenticationException ? "TLS handshake: " : "")}{ex.Message}");
        }
        catch
        {
            await DisposeAsync(socket, stream);
            throw;
        }

        static async ValueTask DisposeAsync(Socket socket, Stream? stream)
        {
            if (stream is not null)
            {
                await stream.DisposeAsync();
            }

            socket.Dispose();
        }
    }

    /// <summary>A connection made: its socket, and the stream written to (the socket's own, or TLS over it).</summary>
    private sealed class Connection(Socket socket, Stream stream) : IAsyncDisposable
    {
        public Stream Stream => stream;

        /// <summary>How long a closing connection waits for the server to close its side.</summary>
        private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);

        /// <summary>
        /// Says it has sent all: TLS's close_notify first, when it is TLS, then the TCP FIN. Under TLS it then reads to
        /// the end of what the server sends (its session tickets) until the server closes: a socket closed with bytes
        /// unread sends a reset, and a reset makes the server's kernel throw away what it received and had not read yet.
        /// </summary>
        public async Task ShutdownAsync()
        {
            if (stream is not SslStream ssl)
            {
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            await ssl.ShutdownAsync();
            socket.Shutdown(SocketShutdown.Send);
            using var timeout = new CancellationTokenSource(CloseTimeout, TimeProvider.System);
            var discard = new byte[4096];
            try
            {
                while (await socket.ReceiveAsync(discard, SocketFlags.None, timeout.Token) > 0)
                {
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                throw new IOException($"the server did not close the connection within {CloseTimeout.TotalSeconds:0} s of the end of the data");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await stream.DisposeAsync();
            socket.Dispose();
        }
    }

    private sealed class Result
    {
        public long Messages { get; set; }

        public long Bytes { get; set; }

        public string? Error { get; set; }
    }

    /// <summary>Collects framed messages into one buffer, so a connection sends tens of kilobytes per system call.</summary>
    private sealed class FrameBuffer(SendFraming framing)
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(128 * 1024);

        public long Length => _buffer.WrittenCount;

        public void Add(ReadOnlySpan<byte> message)
        {
            if (framing == SendFraming.Octet)
            {
                var prefix = _buffer.GetSpan(12);
                message.Length.TryFormat(prefix, out var digits, default, CultureInfo.InvariantCulture);
                prefix[digits] = (byte)' ';
                _buffer.Advance(digits + 1);
                _buffer.Write(message);
            }
            else
            {
                _buffer.Write(message);
                _buffer.Write("\n"u8);
            }
        }

        /// <summary>Sends what was collected (a partial frame never: Add writes whole frames) and returns its length.</summary>
        public async Task<long> FlushAsync(Stream stream, CancellationToken cancellationToken)
        {
            var length = _buffer.WrittenCount;
            if (length > 0)
            {
                await stream.WriteAsync(_buffer.WrittenMemory, cancellationToken);
                _buffer.ResetWrittenCount();
            }

            return length;
        }
    }
}
