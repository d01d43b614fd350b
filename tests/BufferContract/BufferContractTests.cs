using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Testing;

/// <summary>
/// What every buffer between the sources and the writers must do (<see cref="IIngestBuffer"/>), written once and run
/// against each buffer by a subclass that says how to make a small one: the memory buffer, and the spill log.
/// </summary>
public abstract class BufferContractTests
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>More items than the buffer made by <see cref="CreateAsync"/> can ever hold: the fill loops' bound.</summary>
    protected abstract int MaxFill { get; }

    /// <summary>A small buffer of this test's own, which <see cref="MaxFill"/> short messages overfill.</summary>
    protected abstract ValueTask<IIngestBuffer> CreateAsync();

    [Fact]
    public async Task Items_come_out_in_the_order_they_went_in_and_only_a_commit_gives_their_room_back()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        for (var n = 0; n < 250; n++)
        {
            await buffer.WriteAsync(Item(n), Ct);
        }

        Assert.Equal(250, buffer.Messages);
        var batches = await TakeAsync(buffer, 250, batchSize: 100);
        Assert.Equal(Enumerable.Range(0, 250), batches.SelectMany(b => b.Messages).Select(NumberOf));
        Assert.All(batches, b => Assert.InRange(b.Count, 1, 100));
        Assert.Equal(250, buffer.Messages); // taken is not stored

        foreach (var batch in batches)
        {
            buffer.Commit(batch);
        }

        Assert.Equal(0, buffer.Messages);
        Assert.Equal(0, buffer.Bytes);
    }

    [Fact]
    public async Task A_full_buffer_refuses_what_does_not_fit_and_a_waiting_write_goes_in_once_what_it_holds_is_stored()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        var held = Fill(buffer);

        Assert.False(buffer.TryWrite(Item(-1)));
        Assert.False(buffer.TryWriteAll([Item(-2), Item(-3)]));
        Assert.Equal(held, buffer.Messages);
        var waiting = buffer.WriteAsync(Item(held), Ct).AsTask();
        Assert.False(waiting.IsCompleted);

        foreach (var batch in await TakeAsync(buffer, held, batchSize: 500))
        {
            buffer.Commit(batch);
        }

        await waiting.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(1, buffer.Messages);
        var rest = await TakeAsync(buffer, 1, batchSize: 10);
        Assert.Equal([held], rest.SelectMany(b => b.Messages).Select(NumberOf));
    }

    [Fact]
    public async Task A_group_written_together_is_taken_whole_or_not_at_all()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        Assert.True(buffer.TryWriteAll([.. Enumerable.Range(0, 5).Select(Item)]));
        Assert.Equal(5, buffer.Messages);

        var held = 5 + Fill(buffer, from: 5);
        Assert.False(buffer.TryWriteAll([Item(-1), Item(-2)]));
        Assert.Equal(held, buffer.Messages);
        var taken = await TakeAsync(buffer, held, batchSize: 500);
        Assert.Equal(Enumerable.Range(0, held), taken.SelectMany(b => b.Messages).Select(NumberOf));
    }

    [Fact]
    public async Task After_complete_what_is_left_is_drained_then_taking_ends_and_writing_is_refused()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        for (var n = 0; n < 10; n++)
        {
            Assert.True(buffer.TryWrite(Item(n)));
        }

        buffer.Complete();
        buffer.Complete(); // idempotent
        Assert.Throws<InvalidOperationException>(() => buffer.TryWrite(Item(10)));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await buffer.WriteAsync(Item(11), Ct));

        var taken = await TakeAsync(buffer, 10, batchSize: 100);
        Assert.Equal(Enumerable.Range(0, 10), taken.SelectMany(b => b.Messages).Select(NumberOf));
        taken.ForEach(buffer.Commit);
        using var timeout = Timeout();
        Assert.False(await buffer.TakeAsync(new Batch(), Limits(100), TimeProvider.System, timeout.Token));
    }

    [Fact]
    public async Task Complete_fails_a_write_waiting_for_room_and_accepts_nothing_of_it()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        var held = Fill(buffer);
        var waiting = buffer.WriteAsync(Item(held), Ct).AsTask();

        buffer.Complete();

        await Assert.ThrowsAsync<InvalidOperationException>(() => waiting.WaitAsync(TestTimeouts.Wait, Ct));
        Assert.Equal(held, buffer.Messages);
        var taken = await TakeAsync(buffer, held, batchSize: 500);
        Assert.Equal(Enumerable.Range(0, held), taken.SelectMany(b => b.Messages).Select(NumberOf));
    }

    [Fact]
    public async Task A_cancelled_wait_for_room_accepts_nothing()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        var held = Fill(buffer);
        using var cancel = new CancellationTokenSource();
        var waiting = buffer.WriteAsync(Item(held), cancel.Token).AsTask();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TestTimeouts.Wait, Ct));
        Assert.Equal(held, buffer.Messages);
        foreach (var batch in await TakeAsync(buffer, held, batchSize: 500))
        {
            buffer.Commit(batch);
        }

        Assert.Equal(0, buffer.Messages); // the cancelled item never came in
    }

    [Fact]
    public async Task A_take_waiting_for_items_ends_when_cancelled_and_takes_nothing()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        using var cancel = new CancellationTokenSource();
        var batch = new Batch();
        var taking = buffer.TakeAsync(batch, Limits(100), TimeProvider.System, cancel.Token).AsTask();
        Assert.False(taking.IsCompleted);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => taking.WaitAsync(TestTimeouts.Wait, Ct));
        Assert.Equal(0, batch.Count);
        Assert.True(buffer.TryWrite(Item(0)));
        var taken = await TakeAsync(buffer, 1, batchSize: 10);
        Assert.Equal([0], taken.SelectMany(b => b.Messages).Select(NumberOf));
    }

    [Fact]
    public async Task A_take_returns_what_has_come_once_the_linger_has_passed()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        for (var n = 0; n < 3; n++)
        {
            Assert.True(buffer.TryWrite(Item(n)));
        }

        var batch = new Batch();
        using var timeout = Timeout();
        var limits = new BatchWriterOptions { BatchSize = 1000, Linger = TimeSpan.FromMilliseconds(20) };
        Assert.True(await buffer.TakeAsync(batch, limits, TimeProvider.System, timeout.Token));
        Assert.Equal([0, 1, 2], batch.Messages.Select(NumberOf));
    }

    [Fact]
    public async Task A_receipt_is_told_no_later_than_the_commit_of_its_last_item()
    {
        await using var owner = await OwnAsync();
        var buffer = owner.Buffer;
        var receipt = new Receipt(5);
        Assert.True(buffer.TryWriteAll([.. Enumerable.Range(0, 5).Select(n => WithReceipt(Item(n), receipt))]));
        var other = new Receipt(1);
        Assert.True(buffer.TryWrite(WithReceipt(Item(5), other)));

        foreach (var batch in await TakeAsync(buffer, 6, batchSize: 100))
        {
            buffer.Commit(batch);
        }

        await receipt.Stored.WaitAsync(TestTimeouts.Wait, Ct);
        await other.Stored.WaitAsync(TestTimeouts.Wait, Ct);
    }

    [Fact]
    public async Task Concurrent_writers_and_takers_see_every_item_exactly_once_within_the_bounds()
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        for (var iteration = 0; iteration < TestTimeouts.Iterations(3); iteration++)
        {
            await using var owner = await OwnAsync();
            var buffer = owner.Buffer;
            var writers = random.Next(2, 5);
            var perWriter = MaxFill / writers; // together, more than the buffer holds: writers wait for room
            var seen = new int[writers * perWriter];
            var writing = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
            {
                for (var i = 0; i < perWriter; i++)
                {
                    await buffer.WriteAsync(Item((w * perWriter) + i), Ct);
                }
            }, Ct)).ToArray();
            var batchSize = random.Next(1, 300);
            var taking = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
            {
                var batch = new Batch();
                while (await buffer.TakeAsync(batch, Limits(batchSize), TimeProvider.System, Ct))
                {
                    foreach (var message in batch.Messages)
                    {
                        Interlocked.Increment(ref seen[NumberOf(message)]);
                    }

                    buffer.Commit(batch);
                    batch = new Batch();
                }
            }, Ct)).ToArray();

            await Task.WhenAll(writing).WaitAsync(TestTimeouts.Wait * 2, Ct);
            buffer.Complete();
            await Task.WhenAll(taking).WaitAsync(TestTimeouts.Wait, Ct);
            Assert.True(seen.All(c => c == 1), $"seed {seed}, iteration {iteration}: items seen other than once");
            Assert.Equal(0, buffer.Messages);
        }
    }

    protected static Message Item(int n) =>
        new(DateTimeOffset.UnixEpoch, Transport.Tcp, "127.0.0.1:1", "item " + n.ToString(System.Globalization.CultureInfo.InvariantCulture), 64);

    private static int NumberOf(Message message) =>
        int.Parse(message.Text.AsSpan("item ".Length), System.Globalization.CultureInfo.InvariantCulture);

    private static Message WithReceipt(Message message, Receipt receipt)
    {
        message.Receipt = receipt;
        return message;
    }

    private static BatchWriterOptions Limits(int batchSize) => new() { BatchSize = batchSize, Linger = TimeSpan.FromMilliseconds(1) };

    private static CancellationTokenSource Timeout()
    {
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TestTimeouts.Wait);
        return timeout;
    }

    /// <summary>Writes items numbered from <paramref name="from"/> until the buffer refuses one; returns how many it took.</summary>
    private int Fill(IIngestBuffer buffer, int from = 0)
    {
        var n = from;
        while (buffer.TryWrite(Item(n)))
        {
            n++;
            Assert.True(n - from < MaxFill, $"the buffer took {MaxFill} items and was still not full");
        }

        Assert.True(n > from, "the buffer took nothing");
        return n - from;
    }

    /// <summary>Takes batches until <paramref name="count"/> items have come (not committing them).</summary>
    private static async Task<List<Batch>> TakeAsync(IIngestBuffer buffer, int count, int batchSize)
    {
        var batches = new List<Batch>();
        using var timeout = Timeout();
        var taken = 0;
        while (taken < count)
        {
            var batch = new Batch();
            Assert.True(await buffer.TakeAsync(batch, Limits(Math.Min(batchSize, count - taken)), TimeProvider.System, timeout.Token),
                "the buffer ended early");
            taken += batch.Count;
            batches.Add(batch);
        }

        Assert.Equal(count, taken);
        return batches;
    }

    private async Task<Owned> OwnAsync() => new(await CreateAsync());

    /// <summary>A buffer, disposed (the spill log closed) at the end of the test.</summary>
    protected sealed class Owned(IIngestBuffer buffer) : IAsyncDisposable
    {
        public IIngestBuffer Buffer { get; } = buffer;

        public async ValueTask DisposeAsync()
        {
            Buffer.Complete();
            if (Buffer is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}
