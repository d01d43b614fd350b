using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Spillway.Cli.Hosting;

namespace Spillway.Cli.Commands;

/// <summary>
/// <c>spillway send</c>: a TCP client for people and tests. Sends the lines of stdin, or <c>-n</c> generated messages
/// that each carry a sequence number (<c>seq=0000000042 ...</c>), message <c>i</c> on connection <c>i % C</c>.
/// </summary>
internal static class SendCommand
{
    public static Command Create(Func<Stream> openInput)
    {
        var tcp = new Option<IPEndPoint>("--tcp")
        {
            Description = "Where to send",
            HelpName = "HOST:PORT",
            DefaultValueFactory = _ => new IPEndPoint(IPAddress.Loopback, 5514),
            CustomParser = result =>
            {
                var text = result.Tokens[^1].Value;
                if (ValueParsers.TryParseEndpoint(text, out var endpoint))
                {
                    return endpoint;
                }

                result.AddError($"invalid value '{text}' for --tcp: expected HOST:PORT, such as 127.0.0.1:5514");
                return null;
            },
        };
        var count = new Option<long?>("--count", "-n")
        {
            Description = "Send this many generated messages instead of the lines of stdin", HelpName = "N",
        };
        var size = new Option<int>("--size")
        {
            Description = $"Bytes in each generated message, framing excluded (at least {MessageGenerator.MinimumSize})",
            HelpName = "BYTES", DefaultValueFactory = _ => 100,
        };
        var connections = new Option<int>("--connections", "-c")
        {
            Description = "TCP connections to spread the messages over", HelpName = "C", DefaultValueFactory = _ => 1,
        };
        var framing = new Option<Framing>("--framing")
        {
            Description = "lf: each message ends with LF; octet: RFC 6587 octet counting", DefaultValueFactory = _ => Framing.Lf,
        };

        var command = new Command("send", "Send messages over TCP: the lines of stdin, or -n generated ones")
        {
            tcp, count, size, connections, framing,
        };
        size.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < MessageGenerator.MinimumSize)
            {
                result.AddError($"--size must be at least {MessageGenerator.MinimumSize}, to hold the sequence number");
            }
        });
        connections.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--connections must be at least 1");
            }
        });
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 0)
            {
                result.AddError("--count must not be negative");
            }
        });

        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var sender = new Sender(parseResult.GetValue(tcp)!, parseResult.GetValue(framing), parseResult.InvocationConfiguration.Output,
                parseResult.InvocationConfiguration.Error);
            return parseResult.GetValue(count) is { } n
                ? await sender.SendGeneratedAsync(n, parseResult.GetValue(size), parseResult.GetValue(connections), cancellationToken)
                : await sender.SendLinesAsync(openInput(), cancellationToken);
        });
        return command;
    }

    internal enum Framing
    {
        Lf,
        Octet,
    }

    private sealed class Sender(IPEndPoint endpoint, Framing framing, TextWriter output, TextWriter error)
    {
        private const int FlushAt = 64 * 1024;

        public async Task<int> SendGeneratedAsync(long count, int size, int connections, CancellationToken cancellationToken)
        {
            var started = TimeProvider.System.GetTimestamp();
            var tasks = Enumerable.Range(0, connections)
                .Select(c => SendConnectionAsync(c, connections, count, size, cancellationToken))
                .ToArray();
            var results = await Task.WhenAll(tasks);
            return await ReportAsync(results, connections, TimeProvider.System.GetElapsedTime(started));
        }

        /// <summary>Sends each line of the input as one message, byte for byte (no decoding: invalid UTF-8 goes as it is).</summary>
        public async Task<int> SendLinesAsync(Stream input, CancellationToken cancellationToken)
        {
            var started = TimeProvider.System.GetTimestamp();
            var result = new Result();
            var reader = PipeReader.Create(input);
            try
            {
                using var socket = await ConnectAsync(cancellationToken);
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
            catch (SocketException ex)
            {
                result.Error = ex.Message;
            }
            finally
            {
                await reader.CompleteAsync();
            }

            return await ReportAsync([result], 1, TimeProvider.System.GetElapsedTime(started));
        }

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

        private async Task<Result> SendConnectionAsync(int connection, int connections, long count, int size, CancellationToken cancellationToken)
        {
            var result = new Result();
            try
            {
                using var socket = await ConnectAsync(cancellationToken);
                var generator = new MessageGenerator(size);
                var buffer = new FrameBuffer(framing);
                for (long seq = connection; seq < count; seq += connections)
                {
                    buffer.Add(generator.Next(seq));
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

        private async Task<Socket> ConnectAsync(CancellationToken cancellationToken)
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endpoint, cancellationToken);
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        private async Task<int> ReportAsync(Result[] results, int connections, TimeSpan elapsed)
        {
            var messages = results.Sum(r => r.Messages);
            var bytes = results.Sum(r => r.Bytes);
            var rate = elapsed.TotalSeconds > 0 ? messages / elapsed.TotalSeconds : 0;
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"sent {messages} messages ({bytes} bytes) over {connections} connection(s) to tcp {endpoint} in {elapsed.TotalSeconds:F2} s: {rate:F0} msg/s"));
            var failed = results.Where(r => r.Error is not null).ToArray();
            foreach (var failure in failed)
            {
                await error.WriteLineAsync($"spillway send: {failure.Error}");
            }

            return failed.Length == 0 ? 0 : 1;
        }
    }

    private sealed class Result
    {
        public long Messages { get; set; }

        public long Bytes { get; set; }

        public string? Error { get; set; }
    }

    /// <summary>Collects framed messages into one buffer, so a connection sends tens of kilobytes per system call.</summary>
    private sealed class FrameBuffer(Framing framing)
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(128 * 1024);

        public long Length => _buffer.WrittenCount;

        public void Add(ReadOnlySpan<byte> message)
        {
            if (framing == Framing.Octet)
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
