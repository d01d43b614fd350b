using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Tcp;
using Spillway.Testing;

namespace Spillway.Sources.Tests;

public sealed class TcpSourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_hundred_concurrent_connections_deliver_every_frame_in_order()
    {
        const int Connections = 200;
        const int PerConnection = 300;
        await using var harness = SourceHarness.StartTcp();
        var random = new Random(3);
        var seeds = Enumerable.Range(0, Connections).Select(_ => random.Next()).ToArray();

        await Task.WhenAll(Enumerable.Range(0, Connections).Select(c => Task.Run(async () =>
        {
            var rng = new Random(seeds[c]);
            using var socket = await harness.ConnectAsync();
            var stream = new List<byte>();
            for (var i = 0; i < PerConnection; i++)
            {
                var text = $"<13>conn={c:D3} seq={i:D5} {new string('m', rng.Next(0, 200))}";
                stream.AddRange(Encoding.UTF8.GetBytes(rng.Next(2) == 0 ? $"{Encoding.UTF8.GetByteCount(text)} {text}" : text + "\n"));
            }

            // Random write sizes, so frames straddle reads in every way.
            var bytes = stream.ToArray();
            for (var offset = 0; offset < bytes.Length;)
            {
                var n = Math.Min(rng.Next(1, 3000), bytes.Length - offset);
                await socket.SendAsync(bytes.AsMemory(offset, n), SocketFlags.None, Ct);
                offset += n;
            }

            socket.Shutdown(SocketShutdown.Send);
        }, Ct))).WaitAsync(TestTimeouts.Wait, Ct);

        await Eventually.Until(() => harness.Stats.Stored == Connections * PerConnection, "every message to be stored");
        await harness.StopAsync();

        // Stored as syslog: the PRI went to facility and severity, the message is what follows it.
        var byConnection = harness.Sink.Stored.GroupBy(m => m[..8]).ToDictionary(g => g.Key, g => g.Select(m => m[9..18]).ToList());
        Assert.Equal(Connections, byConnection.Count);
        Assert.All(byConnection.Values, seqs => Assert.Equal(Enumerable.Range(0, PerConnection).Select(i => $"seq={i:D5}"), seqs));
        Assert.Equal(0, harness.Stats.Rejected);
        Assert.Equal(harness.Stats.Accepted, harness.Stats.Stored);
    }

    [Fact]
    public async Task A_full_buffer_stops_reading_the_socket_so_the_sender_blocks_and_nothing_is_dropped()
    {
        const int Messages = 200_000; // 20 MB: far more than the kernel's socket buffers hold
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = SourceHarness.StartTcp(maxMessages: 10, sink: sink);
        using var socket = await harness.ConnectAsync();
        var line = Encoding.ASCII.GetBytes(new string('x', 95));
        var send = Task.Run(async () =>
        {
            var chunk = new List<byte>();
            for (var i = 0; i < Messages; i++)
            {
                chunk.AddRange(Encoding.ASCII.GetBytes($"{i:D7}"));
                chunk.AddRange(line);
                chunk.Add((byte)'\n');
                if (chunk.Count > 60_000 || i == Messages - 1)
                {
                    await socket.SendAsync(chunk.ToArray(), SocketFlags.None, Ct);
                    chunk.Clear();
                }
            }

            socket.Shutdown(SocketShutdown.Send);
        }, Ct);

        await Eventually.Until(() => harness.Buffer.Messages == 10, "the buffer to fill");

        // The writer is held, so the buffer stays full: the source must stop reading, the socket buffers fill up,
        // and the sender's SendAsync must stop completing. Had the source read on (dropping or buffering without
        // bound), 20 MB over loopback would have been sent in well under this window.
        var winner = await Task.WhenAny(send, Task.Delay(TimeSpan.FromMilliseconds(500), TimeProvider.System, Ct));
        Assert.NotSame(send, winner);
        Assert.Equal(10, harness.Stats.Accepted);

        sink.Gate.SetResult();
        await send.WaitAsync(TestTimeouts.Wait, Ct);
        await Eventually.Until(() => harness.Stats.Stored == Messages, "every message to be stored");
        Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"{i:D7}"), sink.Stored.Select(m => m[..7]));
        Assert.All(sink.BatchSizes, size => Assert.InRange(size, 1, 10));
    }

    [Fact]
    public async Task With_the_drop_policy_a_full_buffer_drops_and_counts_instead_of_pushing_back()
    {
        const int Messages = 20_000;
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = SourceHarness.StartTcp(maxMessages: 10, sink: sink, whenFull: FullPolicy.Drop);
        using (var socket = await harness.ConnectAsync())
        {
            var lines = string.Concat(Enumerable.Range(0, Messages).Select(i => $"message {i}\n"));
            await socket.SendAsync(Encoding.ASCII.GetBytes(lines), SocketFlags.None, Ct).AsTask().WaitAsync(TestTimeouts.Wait, Ct);
            socket.Shutdown(SocketShutdown.Send);
        }

        // The writer is held, yet the sender was never blocked: all but the ten that fit were dropped and counted.
        await Eventually.Until(() => harness.Stats.Accepted == Messages, "every message to be accepted or dropped");
        Assert.Equal(Messages - 10, harness.Stats.Dropped);
        sink.Gate.SetResult();
        await harness.StopAsync();
        Assert.Equal(10, harness.Stats.Stored);
        Assert.Equal(harness.Stats.Accepted, harness.Stats.Stored + harness.Stats.Rejected + harness.Stats.Dropped);
    }

    [Fact]
    public async Task Stop_takes_what_arrived_finishes_the_frames_in_hand_and_keeps_a_partial_frame_as_truncated()
    {
        await using var harness = SourceHarness.StartTcp();
        using var socket = await harness.ConnectAsync();
        var complete = string.Concat(Enumerable.Range(0, 1000).Select(i => $"line {i}\n"));
        await socket.SendAsync(Encoding.ASCII.GetBytes(complete + "partial fra"), SocketFlags.None, Ct);

        // The client keeps the connection open; stop must not wait for it.
        await Eventually.Until(() => harness.Stats.Accepted >= 1, "the first line to arrive");
        await harness.StopAsync();

        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"line {i}"), harness.Sink.Stored);
        var reject = Assert.Single(harness.Sink.Rejects);
        Assert.Equal(RejectReason.Truncated, reject.Reason);
        Assert.Equal("partial fra", Encoding.ASCII.GetString(reject.Raw));
        Assert.Equal(harness.Stats.Accepted, harness.Stats.Stored + harness.Stats.Rejected);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_frame_leaves_a_truncated_reject()
    {
        await using var harness = SourceHarness.StartTcp();
        using (var socket = await harness.ConnectAsync())
        {
            await socket.SendAsync("whole\n40 <13>only part of it"u8.ToArray(), SocketFlags.None, Ct);
            socket.Shutdown(SocketShutdown.Both);
        }

        await Eventually.Until(() => harness.Stats.Stored + harness.Stats.Rejected == 2, "both frames to be stored");
        Assert.Equal(["whole"], harness.Sink.Stored);
        var reject = Assert.Single(harness.Sink.Rejects);
        Assert.Equal(RejectReason.Truncated, reject.Reason);
        Assert.Equal("<13>only part of it", Encoding.ASCII.GetString(reject.Raw));
        Assert.Contains("40 announced", reject.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_frames_become_rejects_with_their_bytes_and_the_good_ones_around_them_are_stored()
    {
        await using var harness = SourceHarness.StartTcp(maxMessageBytes: 16);
        using (var socket = await harness.ConnectAsync())
        {
            byte[] stream =
            [
                .. "before\n"u8, .. "not \xff utf-8\n"u8, 0xC3, 0x28, (byte)'\n',
                .. "a line that is longer than sixteen bytes\n"u8, .. "   \n"u8, .. "\n"u8, .. "after\n"u8,
            ];
            await socket.SendAsync(stream, SocketFlags.None, Ct);
            socket.Shutdown(SocketShutdown.Send);
        }

        await Eventually.Until(() => harness.Stats.Stored + harness.Stats.Rejected == 5, "all frames to be stored");
        Assert.Equal(["before", "not \xff utf-8", "after"], harness.Sink.Stored);
        Assert.Equal(2, harness.Stats.Blank);
        Assert.Collection(harness.Sink.Rejects,
            r =>
            {
                Assert.Equal(RejectReason.InvalidUtf8, r.Reason);
                Assert.Equal(new byte[] { 0xC3, 0x28 }, r.Raw);
            },
            r =>
            {
                Assert.Equal(RejectReason.Oversize, r.Reason);
                Assert.Equal("a line that is l", Encoding.ASCII.GetString(r.Raw));
            });
    }

    [Fact]
    public async Task A_port_in_use_fails_start_with_a_message_naming_the_endpoint()
    {
        await using var first = SourceHarness.StartTcp();
        var time = TimeProvider.System;
        var stats = new IngestStats();
        var buffer = new IngestBuffer(new IngestBufferOptions(), stats);
        var badInput = new BadInputLog(NullLogger<BadInputLog>.Instance, time);
        var pipeline = new SourcePipeline(buffer, new FrameDecoder(stats, badInput, time), stats, badInput, time);
        await using var second = new TcpSource(new TcpSourceOptions { Endpoints = [first.Endpoint] }, pipeline, NullLogger<TcpSource>.Instance);

        var error = Assert.Throws<ListenFailedException>(() => second.Start(Ct));
        Assert.Contains($"cannot listen on tcp {first.Endpoint}", error.Message, StringComparison.Ordinal);
    }
}
