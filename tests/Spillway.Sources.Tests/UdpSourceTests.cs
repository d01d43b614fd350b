using System.Net.Sockets;
using System.Text;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Sources.Tests;

public sealed class UdpSourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Socket Client() => new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

    [Fact]
    public async Task Each_datagram_is_one_message_parsed_as_syslog_with_its_trailing_LF_or_NUL_trimmed()
    {
        await using var harness = SourceHarness.StartUdp();
        using var client = Client();
        client.Connect(harness.Endpoint);
        await client.SendAsync("<14>myapp: hello\0"u8.ToArray(), SocketFlags.None, Ct);
        await client.SendAsync("<13>Nov 25 02:14:18 vm root: two lines\nin one datagram\n"u8.ToArray(), SocketFlags.None, Ct);
        await client.SendAsync("plain\r\n"u8.ToArray(), SocketFlags.None, Ct);

        await Eventually.Until(() => harness.Stats.Stored == 3, "three messages");
        await harness.StopAsync();
        Assert.Equal(["hello", "two lines\nin one datagram", "plain"], harness.Sink.Stored);
        Assert.Equal(3, harness.Stats.Accepted);
    }

    [Fact]
    public async Task An_oversize_datagram_is_kept_as_a_reject_and_the_next_one_is_stored()
    {
        await using var harness = SourceHarness.StartUdp(maxMessageBytes: 100);
        using var client = Client();
        client.Connect(harness.Endpoint);
        await client.SendAsync(Encoding.ASCII.GetBytes(new string('x', 500)), SocketFlags.None, Ct);
        await client.SendAsync("after"u8.ToArray(), SocketFlags.None, Ct);

        await Eventually.Until(() => harness.Stats.Stored + harness.Stats.Rejected == 2, "both datagrams");
        await harness.StopAsync();
        var reject = Assert.Single(harness.Sink.Rejects);
        Assert.Equal(RejectReason.Oversize, reject.Reason);
        Assert.Equal(100, reject.Raw.Length);
        Assert.Equal(["after"], harness.Sink.Stored);
    }

    [Fact]
    public async Task A_flood_into_a_full_buffer_is_dropped_counted_and_the_totals_still_add_up()
    {
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = SourceHarness.StartUdp(maxMessages: 10, sink: sink);
        using var client = Client();
        client.Connect(harness.Endpoint);

        // Bursts the kernel's socket buffer can hold, each received in full before the next, so every datagram is
        // seen by the source: what it cannot put in the held-up buffer it must drop and count.
        const int Bursts = 20;
        const int PerBurst = 100;
        for (var burst = 0; burst < Bursts; burst++)
        {
            for (var i = 0; i < PerBurst; i++)
            {
                await client.SendAsync(Encoding.ASCII.GetBytes($"<14>flood {burst}-{i}"), SocketFlags.None, Ct);
            }

            var expected = (burst + 1) * PerBurst;
            await Eventually.Until(() => harness.Stats.Accepted == expected, $"{expected} datagrams accepted or dropped");
        }

        Assert.Equal(Bursts * PerBurst - 10, harness.Stats.Dropped);
        sink.Gate.SetResult();
        await harness.StopAsync();
        Assert.Equal(10, harness.Stats.Stored);
        Assert.Equal(harness.Stats.Accepted, harness.Stats.Stored + harness.Stats.Rejected + harness.Stats.Dropped);
    }

    [Fact]
    public async Task With_the_wait_policy_a_full_buffer_holds_datagrams_back_instead_of_dropping()
    {
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = SourceHarness.StartUdp(maxMessages: 10, sink: sink, whenFull: FullPolicy.Wait);
        using var client = Client();
        client.Connect(harness.Endpoint);
        for (var i = 0; i < 50; i++)
        {
            await client.SendAsync(Encoding.ASCII.GetBytes($"m{i}"), SocketFlags.None, Ct);
        }

        await Eventually.Until(() => harness.Buffer.Messages == 10, "the buffer to fill");
        sink.Gate.SetResult();
        await Eventually.Until(() => harness.Stats.Stored == 50, "all fifty stored");
        await harness.StopAsync();
        Assert.Equal(0, harness.Stats.Dropped);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), harness.Sink.Stored);
    }
}
