using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Core.Tests;

public sealed class IngestBufferTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Message_bound_blocks_the_writer_until_a_commit_releases_room()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = 2 }, new IngestStats());
        await buffer.WriteAsync(TestItems.Message("a"), Ct);
        await buffer.WriteAsync(TestItems.Message("b"), Ct);

        var third = buffer.WriteAsync(TestItems.Message("c"), Ct).AsTask();
        Assert.False(third.IsCompleted);

        // Reading does not release capacity: only a commit (after the sink stored the item) does.
        Assert.True(buffer.Reader.TryRead(out _));
        Assert.False(third.IsCompleted);

        buffer.Commit(1, 1);
        await third.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(2, buffer.Messages);
    }

    [Fact]
    public async Task Byte_bound_blocks_the_writer_until_a_commit_releases_room()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = 100, MaxBytes = 10 }, new IngestStats());
        await buffer.WriteAsync(TestItems.Message("aaaa"), Ct);
        await buffer.WriteAsync(TestItems.Message("bbbb"), Ct);

        var third = buffer.WriteAsync(TestItems.Message("cccc"), Ct).AsTask();
        Assert.False(third.IsCompleted);
        Assert.False(buffer.TryWrite(TestItems.Message("d")));

        buffer.Commit(1, 4);
        await third.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(12, buffer.Bytes + 4);
    }

    [Fact]
    public async Task An_item_larger_than_the_byte_bound_gets_in_alone()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxBytes = 4 }, new IngestStats());
        await buffer.WriteAsync(TestItems.Message("much too large"), Ct);
        Assert.False(buffer.TryWrite(TestItems.Message("a")));
        buffer.Commit(1, 14);
        Assert.True(buffer.TryWrite(TestItems.Message("a")));
    }

    [Fact]
    public async Task Waiting_writers_are_admitted_in_arrival_order()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = 1 }, new IngestStats());
        await buffer.WriteAsync(TestItems.Message("first"), Ct);
        var waiting = Enumerable.Range(0, 5).Select(i => buffer.WriteAsync(TestItems.Message($"w{i}"), Ct).AsTask()).ToArray();

        var order = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            Assert.True(await buffer.Reader.WaitToReadAsync(Ct).AsTask().WaitAsync(TestTimeouts.Wait, Ct));
            Assert.True(buffer.Reader.TryRead(out var item));
            order.Add(((Message)item).Text);
            buffer.Commit(1, item.Size);
        }

        await Task.WhenAll(waiting).WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(["first", "w0", "w1", "w2", "w3", "w4"], order);
    }

    [Fact]
    public async Task A_cancelled_wait_accepts_nothing_and_lets_the_next_writer_in()
    {
        var stats = new IngestStats();
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = 100, MaxBytes = 10 }, stats);
        await buffer.WriteAsync(TestItems.Message("123456"), Ct);

        using var cancel = new CancellationTokenSource();
        var big = buffer.WriteAsync(TestItems.Message("123456"), cancel.Token).AsTask();
        var small = buffer.WriteAsync(TestItems.Message("1234"), Ct).AsTask();
        Assert.False(small.IsCompleted); // behind the big one, in arrival order

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => big.WaitAsync(TestTimeouts.Wait, Ct));
        await small.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(2, stats.Accepted);
        Assert.Equal(2, buffer.Messages);
    }

    [Fact]
    public async Task Complete_lets_the_reader_drain_what_is_left_and_then_end()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions(), new IngestStats());
        await buffer.WriteAsync(TestItems.Message("a"), Ct);
        await buffer.WriteAsync(TestItems.Message("b"), Ct);
        buffer.Complete();
        buffer.Complete(); // idempotent

        var read = new List<string>();
        while (await buffer.Reader.WaitToReadAsync(Ct))
        {
            while (buffer.Reader.TryRead(out var item))
            {
                read.Add(((Message)item).Text);
            }
        }

        Assert.Equal(["a", "b"], read);
        await Assert.ThrowsAsync<InvalidOperationException>(() => buffer.WriteAsync(TestItems.Message("c"), Ct).AsTask());
    }

    [Fact]
    public void Commit_of_more_than_the_buffer_holds_is_a_bug_and_throws()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions(), new IngestStats());
        Assert.True(buffer.TryWrite(TestItems.Message("a")));
        Assert.Throws<InvalidOperationException>(() => buffer.Commit(2, 1));
    }

    [Fact]
    public async Task Concurrent_writers_never_exceed_the_bounds_and_every_item_arrives_once()
    {
        for (var iteration = 0; iteration < TestTimeouts.Iterations(20); iteration++)
        {
            const int Writers = 8;
            const int PerWriter = 5_000;
            var options = new IngestBufferOptions { MaxMessages = 64, MaxBytes = 64 * 12 };
            var buffer = new IngestBuffer(options, new IngestStats());

            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                for (var i = 0; i < PerWriter; i++)
                {
                    await buffer.WriteAsync(TestItems.Message($"{w:D2}-{i:D6}"), Ct);
                }
            }, Ct)).ToArray();

            var seen = new HashSet<string>();
            var reader = Task.Run(async () =>
            {
                var pending = new List<IngestItem>();
                while (await buffer.Reader.WaitToReadAsync(Ct))
                {
                    while (buffer.Reader.TryRead(out var item))
                    {
                        Assert.True(buffer.Messages <= options.MaxMessages);
                        Assert.True(buffer.Bytes <= options.MaxBytes);
                        Assert.True(seen.Add(((Message)item).Text));
                        pending.Add(item);
                    }

                    buffer.Commit(pending.Count, pending.Sum(p => (long)p.Size));
                    pending.Clear();
                }
            }, Ct);

            await Task.WhenAll(writers).WaitAsync(TestTimeouts.Wait, Ct);
            buffer.Complete();
            await reader.WaitAsync(TestTimeouts.Wait, Ct);
            Assert.Equal(Writers * PerWriter, seen.Count);
            Assert.Equal(0, buffer.Messages);
            Assert.Equal(0, buffer.Bytes);
        }
    }

    [Fact]
    public void Rejects_count_against_the_byte_bound_by_their_raw_length()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxBytes = 10 }, new IngestStats());
        Assert.True(buffer.TryWrite(TestItems.Reject(RejectReason.Oversize, size: 8)));
        Assert.False(buffer.TryWrite(TestItems.Message("abc")));
        Assert.Equal(8, buffer.Bytes);
    }
}
