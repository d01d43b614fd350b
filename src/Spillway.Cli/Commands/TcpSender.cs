using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Spillway.Cli.Commands;

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
/// collected into 64 KiB writes, so the sender costs little next to the service it measures.
/// </summary>
internal sealed class TcpSender(IPEndPoint endpoint, SendFraming framing)
{
    private const int FlushAt = 64 * 1024;

    /// <summary>
    /// Sends <paramref name="count"/> generated messages, numbered from <paramref name="firstSequence"/>. Every
    /// connection is made first, so <see cref="SendReport.Elapsed"/> runs from the first byte sent to the last, not from
    /// the first handshake.
    /// </summary>
    public async Task<SendReport> SendGeneratedAsync(long firstSequence, long count, int size, int connections, CancellationToken cancellationToken)
    {
        var sockets = await Task.WhenAll(Enumerable.Range(0, connections).Select(c => TryConnectAsync(c, cancellationToken)));
        try
        {
            var started = TimeProvider.System.GetTimestamp();
            var results = await Task.WhenAll(sockets.Select((connected, c) => connected.Socket is { } socket
                ? SendConnectionAsync(socket, c, connections, firstSequence, count, size, cancellationToken)
                : Task.FromResult(new Result { Error = connected.Error })));
            return Report(results, connections, started);
        }
        finally
        {
            foreach (var (socket, _) in sockets)
            {
                socket?.Dispose();
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
            var (socket, error) = await TryConnectAsync(0, cancellationToken);
            if (socket is null)
            {
                result.Error = error;
                return Report([result], 1, TimeProvider.System.GetTimestamp());
            }

            using (socket)
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
                            result.Bytes += await buffer.FlushAsync(socket, cancellationToken);
                        }
                    }

                    reader.AdvanceTo(lines.Start, lines.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }

                result.Bytes += await buffer.FlushAsync(socket, cancellationToken);
                socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (SocketException ex)
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
        Socket socket, int connection, int connections, long firstSequence, long count, int size, CancellationToken cancellationToken)
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
                    result.Bytes += await buffer.FlushAsync(socket, cancellationToken);
                }
            }

            result.Bytes += await buffer.FlushAsync(socket, cancellationToken);
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException ex)
        {
            result.Error = $"connection {connection}: {ex.Message}";
        }

        return result;
    }

    private async Task<(Socket? Socket, string? Error)> TryConnectAsync(int connection, CancellationToken cancellationToken)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken);
            return (socket, null);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            return (null, $"connection {connection}: {ex.Message}");
        }
        catch
        {
            socket.Dispose();
            throw;
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
        public async Task<long> FlushAsync(Socket socket, CancellationToken cancellationToken)
        {
            var length = _buffer.WrittenCount;
            if (length > 0)
            {
                await socket.SendAsync(_buffer.WrittenMemory, SocketFlags.None, cancellationToken);
                _buffer.ResetWrittenCount();
            }

            return length;
        }
    }
}
