using System.Buffers.Binary;
using System.Globalization;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;
using static Spillway.Spill.Tests.SpillHarness;

namespace Spillway.Spill.Tests;

public sealed class SpillBufferTests : IDisposable
{
    private readonly SpillHarness _harness = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _harness.Dispose();

    [Fact]
    public async Task Records_come_back_field_for_field_in_order()
    {
        await using var spill = _harness.Open();
        Append(spill, 0, 10);
        Assert.True(spill.TryWrite(new Reject(DateTimeOffset.UnixEpoch, Transport.Http, "[::1]:80", RejectReason.InvalidUtf8, [0xff, 0xfe], "bad")));

        var taken = await TakeAsync(spill, 11);

        for (var n = 0; n < 10; n++)
        {
            var expected = Item(n);
            var actual = Assert.IsType<Message>(taken[n]);
            Assert.Equal(expected.Text, actual.Text);
            Assert.Equal(expected.ReceivedAt, actual.ReceivedAt);
            Assert.Equal(expected.Transport, actual.Transport);
            Assert.Equal(expected.Peer, actual.Peer);
            Assert.Equal(expected.Size, actual.Size);
            Assert.Equal(expected.Facility, actual.Facility);
            Assert.Equal(expected.Severity, actual.Severity);
            Assert.Equal(expected.Timestamp, actual.Timestamp);
            Assert.Equal(expected.Timestamp?.Offset, actual.Timestamp?.Offset);
            Assert.Equal(expected.Hostname, actual.Hostname);
            Assert.Equal(expected.AppName, actual.AppName);
            Assert.Equal(expected.ProcId, actual.ProcId);
            Assert.Equal(expected.MsgId, actual.MsgId);
            Assert.Equal(expected.StructuredData, actual.StructuredData);
        }

        var reject = Assert.IsType<Reject>(taken[10]);
        Assert.Equal(RejectReason.InvalidUtf8, reject.Reason);
        Assert.Equal([0xff, 0xfe], reject.Raw);
        Assert.Equal("bad", reject.Detail);
        Assert.Equal(Transport.Http, reject.Transport);
    }

    [Fact]
    public async Task What_was_not_committed_is_replayed_after_a_restart_and_what_was_is_not()
    {
        await using (var spill = _harness.Open())
        {
            Append(spill, 0, 1000);
            await TakeAsync(spill, 400);
        }

        await using (var spill = _harness.Open())
        {
            Assert.Equal(600, spill.Replayed);
            Assert.Equal(600, _harness.Stats.Replayed);
            Assert.Equal(600, spill.Messages);
            var taken = await TakeAsync(spill, 600);
            Assert.Equal(Enumerable.Range(400, 600), taken.Select(NumberOf));
        }

        await using (var spill = _harness.Open())
        {
            Assert.Equal(0, spill.Replayed);
        }
    }

    [Fact]
    public async Task A_batch_taken_before_a_stop_is_taken_again_whole_under_the_same_id()
    {
        var ids = new List<Guid>();
        await using (var spill = _harness.Open())
        {
            Append(spill, 0, 250);
            await TakeAsync(spill, 250, commit: false, ids);
        }

        var again = new List<Guid>();
        await using (var spill = _harness.Open())
        {
            Append(spill, 250, 50); // new records after the restart form batches of their own
            var taken = await TakeAsync(spill, 300, commit: true, again);
            Assert.Equal(Enumerable.Range(0, 300), taken.Select(NumberOf));
        }

        Assert.Equal(ids, again.Take(ids.Count));
        Assert.DoesNotContain(again.Skip(ids.Count), ids.Contains);
    }

    [Fact]
    public async Task With_both_checkpoint_copies_damaged_everything_is_replayed_under_the_ids_already_used()
    {
        var ids = new List<Guid>();
        await using (var spill = _harness.Open())
        {
            Append(spill, 0, 500);
            await TakeAsync(spill, 500, commit: true, ids);
            Append(spill, 500, 1); // not taken: the segments stay (a clean drain of everything deletes them)
        }

        foreach (var slot in Directory.GetFiles(_harness.Directory, "checkpoint.*"))
        {
            FlipByte(slot, 12);
        }

        var again = new List<Guid>();
        await using (var spill = _harness.Open())
        {
            Assert.Equal(501, spill.Replayed);
            var taken = await TakeAsync(spill, 501, commit: true, again);
            Assert.Equal(Enumerable.Range(0, 501), taken.Select(NumberOf));
        }

        // The sink's ledger knows these ids: nothing is stored twice.
        Assert.Equal(ids, again.Take(ids.Count));
    }

    [Fact]
    public async Task With_the_newer_checkpoint_copy_damaged_the_older_one_is_used()
    {
        await using (var spill = _harness.Open())
        {
            Append(spill, 0, 300);
            await TakeAsync(spill, 100, commit: true);
        }

        var ids = new List<Guid>();
        await using (var spill = _harness.Open())
        {
            await TakeAsync(spill, 100, commit: true, ids);
        }

        var newest = Directory.GetFiles(_harness.Directory, "checkpoint.*")
            .OrderByDescending(p => BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(p).AsSpan(8)))
            .First();
        FlipByte(newest, 20);

        var again = new List<Guid>();
        await using (var spill = _harness.Open())
        {
            Assert.Equal(200, spill.Replayed); // from the older checkpoint: the second 100 again, and the last 100
            var taken = await TakeAsync(spill, 200, commit: true, again);
            Assert.Equal(Enumerable.Range(100, 200), taken.Select(NumberOf));
        }

        Assert.Equal(ids, again.Take(ids.Count)); // the second hundred under the ids they were stored under
    }

    [Fact]
    public async Task A_torn_tail_is_cut_off_and_kept_in_quarantine_and_the_log_goes_on()
    {
        await using (var spill = _harness.Open())
        {
            Append(spill, 0, 100);
        }

        var segment = Assert.Single(_harness.SegmentFiles());
        var offsets = RecordOffsets(segment);
        using (var file = File.OpenWrite(segment))
        {
            file.SetLength(offsets[^1] + 20); // the last record half written
        }

        await using (var spill = _harness.Open())
        {
            Assert.Equal(99, spill.Replayed);
            Assert.Equal(20, spill.TruncatedBytes);
            Assert.Equal(0, spill.QuarantinedRegions);
            Append(spill, 1000, 10);
            var taken = await TakeAsync(spill, 109);
            Assert.Equal(Enumerable.Range(0, 99).Concat(Enumerable.Range(1000, 10)), taken.Select(NumberOf));
        }

        Assert.Single(_harness.QuarantineFiles());
    }

    [Theory]
    [InlineData(3, 2)] // a flipped bit in the length
    [InlineData(3, 6)] // in the checksum
    [InlineData(50, 10)] // in the sequence number
    [InlineData(50, 40)] // in the payload
    [InlineData(99, 30)] // in the last record
    public async Task A_damaged_record_is_quarantined_and_every_other_record_kept(int damaged, int byteInRecord)
    {
        await using (var spill = _harness.Open())
        {
            Append(spill, 0, 100);
        }

        var segment = Assert.Single(_harness.SegmentFiles());
        FlipByte(segment, RecordOffsets(segment)[damaged] + byteInRecord);

        await using (var spill = _harness.Open())
        {
            Assert.Equal(99, spill.Replayed);
            Assert.Equal(1, spill.QuarantinedRegions + (spill.TruncatedBytes > 0 ? 1 : 0));
            var taken = await TakeAsync(spill, 99);
            Assert.Equal(Enumerable.Range(0, 100).Where(n => n != damaged), taken.Select(NumberOf));
        }

        Assert.Single(_harness.QuarantineFiles());
    }

    [Fact]
    public async Task Garbage_after_the_last_record_is_cut_off()
    {
        await using (var spill = _harness.Open())
        {
            Append(spill, 0, 10);
        }

        var segment = Assert.Single(_harness.SegmentFiles());
        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(new byte[4096].Select((_, i) => (byte)(i * 31)).ToArray());
        }

        await using var reopened = _harness.Open();
        Assert.Equal(10, reopened.Replayed);
        Assert.Equal(4096, reopened.TruncatedBytes);
        Assert.Equal(Enumerable.Range(0, 10), (await TakeAsync(reopened, 10)).Select(NumberOf));
    }

    [Fact]
    public async Task Within_the_budget_writes_never_wait_beyond_it_they_do_until_records_are_stored()
    {
        await using var spill = _harness.Open(maxBytes: 1024 * 1024, segmentBytes: 64 * 1024);
        var accepted = 0;
        while (spill.TryWrite(Item(accepted)))
        {
            accepted++;
            Assert.True(accepted < 100_000, "the budget never filled");
        }

        Assert.True(spill.DiskBytes <= 1024 * 1024);
        Assert.True(accepted > 5_000);

        var waiting = spill.WriteAsync(Item(accepted), Ct).AsTask();
        Assert.False(waiting.IsCompleted);
        var taken = await TakeAsync(spill, accepted + 1);
        await waiting.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(Enumerable.Range(0, accepted + 1), taken.Select(NumberOf));
        await Eventually.Until(() => _harness.SegmentFiles().Length == 1, "the stored segments to be deleted");
    }

    [Fact]
    public async Task A_writer_lingering_for_more_cuts_its_batch_as_soon_as_the_log_is_full()
    {
        await using var spill = _harness.Open(maxBytes: 1024 * 1024, segmentBytes: 64 * 1024);
        var linger = new SignallingTimeProvider(); // never advanced: only a full log can end this linger
        var limits = new BatchWriterOptions { BatchSize = 100_000, Linger = TimeSpan.FromHours(1) };
        var batch = new Batch();
        Append(spill, 0, 1);
        var take = spill.TakeAsync(batch, limits, linger, Ct).AsTask();
        await linger.NextTimerAsync(); // the first record in hand, waiting for more

        var accepted = 1;
        while (spill.TryWrite(Item(accepted)))
        {
            accepted++;
        }

        Assert.True(await take.WaitAsync(TestTimeouts.Wait, Ct));
        Assert.NotEmpty(batch.Messages); // what was written when the log filled; the rest follows in the next batches
        spill.Commit(batch);
        var rest = await TakeAsync(spill, accepted - batch.Count);
        Assert.Equal(Enumerable.Range(0, accepted), batch.Messages.Concat(rest).Select(NumberOf));
        await Eventually.Until(() => spill.TryWrite(Item(accepted)), "room once the batch is stored");
    }

    [Fact]
    public async Task A_receipt_is_told_once_the_record_is_on_disk_not_once_stored()
    {
        await using var spill = _harness.Open();
        var receipt = new Receipt(3);
        var items = Enumerable.Range(0, 3).Select(n => (IngestItem)Item(n)).ToList();
        items.ForEach(i => i.Receipt = receipt);

        Assert.True(spill.TryWriteAll(items));
        await receipt.Stored.WaitAsync(TestTimeouts.Wait, Ct);

        var taken = await TakeAsync(spill, 3);
        Assert.All(taken, item => Assert.Null(item.Receipt)); // the writer must not tell it again
    }

    [Fact]
    public async Task Completion_ends_the_takes_once_everything_is_taken()
    {
        await using var spill = _harness.Open();
        Append(spill, 0, 5);
        spill.Complete();
        Assert.Throws<InvalidOperationException>(() => spill.TryWrite(Item(5)));
        var taken = await TakeAsync(spill, 5);
        Assert.Equal(5, taken.Count);
        Assert.False(await spill.TakeAsync(new Batch(), Limits(), TimeProvider.System, Ct).AsTask().WaitAsync(TestTimeouts.Wait, Ct));
    }

    [Fact]
    public async Task A_second_process_cannot_open_the_same_directory()
    {
        await using var spill = _harness.Open();
        var error = Assert.Throws<SpillUnavailableException>(() => _harness.Open());
        Assert.Contains("another process holds it", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Many_writers_and_a_slow_reader_lose_nothing_and_double_nothing()
    {
        for (var iteration = 0; iteration < TestTimeouts.Iterations(3); iteration++)
        {
            const int Producers = 4;
            const int Each = 5_000;
            await using var spill = _harness.Open(maxBytes: 2 * 1024 * 1024, segmentBytes: 64 * 1024, memoryMessages: 50);
            var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
            {
                for (var i = 0; i < Each; i++)
                {
                    await spill.WriteAsync(Item((p * Each) + i), Ct);
                }
            }, Ct)).ToArray();

            var taken = await TakeAsync(spill, Producers * Each);
            await Task.WhenAll(producers).WaitAsync(TestTimeouts.Wait, Ct);

            var numbers = taken.Select(NumberOf).ToList();
            Assert.Equal(Producers * Each, numbers.Distinct().Count());
            for (var p = 0; p < Producers; p++)
            {
                var mine = numbers.Where(n => n / Each == p).ToList();
                Assert.Equal(mine.Order(), mine); // each producer's records in the order it wrote them
            }

            Assert.Equal(0, spill.Messages);
            await spill.DisposeAsync();
            await using var reopened = _harness.Open();
            Assert.Equal(0, reopened.Replayed);
            await reopened.DisposeAsync();
            _harness.Dispose();
        }
    }

    [Fact]
    public async Task A_reader_is_never_handed_a_record_before_it_is_written()
    {
        // What is handed to a writer can be stored; what is not yet written can still be refused by the disk. So a
        // record goes to a writer only once it is in its segment, even from the memory copy.
        await using var spill = _harness.Open(segmentBytes: 64 * 1024);
        Append(spill, 0, 1);
        var first = new Batch();
        Assert.True(await spill.TakeAsync(first, Limits(), TimeProvider.System, Ct)); // caught up: memory from now on
        spill.Commit(first);

        var (held, release) = HoldFlusherOnce(spill);
        try
        {
            Append(spill, 1, 1);
            await held.WaitAsync(TestTimeouts.Wait, Ct); // record 1 written; the flusher held before it writes more
            Append(spill, 2, 10);

            var batch = new Batch();
            Assert.True(await spill.TakeAsync(batch, Limits(), TimeProvider.System, Ct));
            Assert.Equal([1], batch.Messages.Select(NumberOf)); // not 2..11, which are in memory only
            spill.Commit(batch);
            var next = spill.TakeAsync(new Batch(), Limits(), TimeProvider.System, Ct).AsTask();
            Assert.False(next.IsCompleted);
            release.SetResult();
            Assert.True(await next.WaitAsync(TestTimeouts.Wait, Ct));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_clean_drain_leaves_no_segment_behind()
    {
        await using (var spill = _harness.Open(segmentBytes: 64 * 1024))
        {
            Append(spill, 0, 2000);
            await TakeAsync(spill, 2000);
        }

        Assert.Empty(_harness.SegmentFiles());
        await using (var spill = _harness.Open())
        {
            Assert.Equal(0, spill.Replayed);
            Append(spill, 5000, 10);
            Assert.Equal(Enumerable.Range(5000, 10), (await TakeAsync(spill, 10)).Select(NumberOf));
        }
    }

    [Fact]
    public async Task While_the_disk_is_behind_the_records_waiting_for_it_stay_within_the_memory_bound()
    {
        await using var spill = _harness.Open(memoryBytes: 64 * 1024);
        var (held, release) = HoldFlusherOnce(spill);
        try
        {
            Append(spill, 0, 1);
            await held.WaitAsync(TestTimeouts.Wait, Ct);

            // The flusher is held: what is appended now waits in memory, up to the memory bound, then writes wait.
            var accepted = 1;
            while (spill.TryWrite(Item(accepted)))
            {
                accepted++;
                Assert.True(accepted < 10_000, "the records waiting for the disk were not bounded");
            }

            Assert.True(accepted > 100);
            var waiting = spill.WriteAsync(Item(accepted), Ct).AsTask();
            Assert.False(waiting.IsCompleted);
            release.SetResult();
            await waiting.WaitAsync(TestTimeouts.Wait, Ct);

            var taken = await TakeAsync(spill, accepted + 1);
            Assert.Equal(Enumerable.Range(0, accepted + 1), taken.Select(NumberOf));
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task While_the_disk_is_behind_senders_held_at_the_bound_leave_room_for_those_that_would_be_refused()
    {
        await using var spill = _harness.Open(memoryBytes: 64 * 1024);
        var (held, release) = HoldFlusherOnce(spill);
        try
        {
            Append(spill, 0, 1);
            await held.WaitAsync(TestTimeouts.Wait, Ct);

            // A TCP sender writes until it is held at the bound...
            var next = 1;
            ValueTask write;
            while ((write = spill.WriteAsync(Item(next), Ct)).IsCompletedSuccessfully)
            {
                next++;
                Assert.True(next < 10_000, "the records waiting for the disk were not bounded");
            }

            // ...and a UDP datagram or an HTTP request, refused rather than held, still finds room beside it, up to as much again.
            var heldAt = next;
            var refusable = 0;
            while (spill.TryWrite(Item(heldAt + 1 + refusable)))
            {
                refusable++;
                Assert.True(refusable < 10_000, "the records of senders that would be refused were not bounded");
            }

            Assert.InRange(refusable, heldAt / 2, heldAt * 2); // about as many again as held the sender back

            release.SetResult();
            await write.AsTask().WaitAsync(TestTimeouts.Wait, Ct);
            var taken = await TakeAsync(spill, heldAt + 1 + refusable);
            Assert.Equal(Enumerable.Range(0, heldAt + 1 + refusable), taken.Select(NumberOf).Order());
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task While_the_disk_is_behind_a_request_larger_than_the_memory_bound_is_taken_and_the_next_one_waits()
    {
        await using var spill = _harness.Open(memoryBytes: 64 * 1024);
        var (held, release) = HoldFlusherOnce(spill);
        try
        {
            Append(spill, 0, 1);
            await held.WaitAsync(TestTimeouts.Wait, Ct);
            Append(spill, 1, 10); // waiting for the disk, far below the bound

            // An HTTP body of about 105 KiB of records, over the 64 KiB bound (and most of the 128 KiB a request that would be
            // refused may use): it would never fit beside what waits, so it is taken while no more than its own size
            // waits, and the one after it is not.
            var first = Large(11, 100);
            var second = Large(111, 100);
            Assert.True(spill.TryWriteAll(first), "a request larger than the bound was starved by what waits beside it");
            Assert.False(spill.TryWriteAll(second));

            release.SetResult();
            await Eventually.Until(() => spill.TryWriteAll(second), "room for the second once the first is written");
            var taken = await TakeAsync(spill, 211);
            Assert.Equal(Enumerable.Range(0, 211), taken.Select(NumberOf));
        }
        finally
        {
            release.TrySetResult();
        }

        static List<IngestItem> Large(int from, int count) => [.. Enumerable.Range(from, count)
            .Select(n => (IngestItem)new Message(DateTimeOffset.UnixEpoch, Transport.Http, "127.0.0.1:1", "message " + n.ToString(CultureInfo.InvariantCulture), 1_100) { StructuredData = new string('x', 1_000) })];
    }

    [Fact]
    public async Task A_log_that_fills_and_frees_again_and_again_never_stalls()
    {
        // 100,000 records (over 10 MB) through a 1 MiB budget: the log fills and frees hundreds of times, with
        // producers waiting for room and batches as large as the log, in whatever order the flusher, the producers and
        // the reader happen to run. (The one order known to have stalled it is forced in
        // Records_committed_before_the_flusher_wrote_them_still_free_their_segments.)
        for (var iteration = 0; iteration < TestTimeouts.Iterations(3); iteration++)
        {
            const int Producers = 4;
            const int Each = 25_000;
            await using var spill = _harness.Open(maxBytes: 1024 * 1024, segmentBytes: 64 * 1024);
            var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
            {
                for (var i = 0; i < Each; i++)
                {
                    await spill.WriteAsync(Item((p * Each) + i), Ct);
                }
            }, Ct)).ToArray();

            // Batches as large as the log: each holds all that was there when the log filled, most of it from memory.
            var limits = new BatchWriterOptions { BatchSize = 100_000, Linger = TimeSpan.FromMilliseconds(5) };
            var numbers = new HashSet<int>();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TestTimeouts.Wait);
            while (numbers.Count < Producers * Each)
            {
                var batch = new Batch();
                Assert.True(await spill.TakeAsync(batch, limits, TimeProvider.System, timeout.Token));
                Assert.All(batch.Messages, m => Assert.True(numbers.Add(NumberOf(m))));
                spill.Commit(batch);
            }

            await Task.WhenAll(producers).WaitAsync(TestTimeouts.Wait, Ct);
            Assert.True(spill.DiskBytes <= 1024 * 1024);
            await spill.DisposeAsync();
            _harness.Dispose();
        }
    }

    private static List<long> RecordOffsets(string segment)
    {
        var offsets = new List<long>();
        using var reader = new SegmentReader(OsFileSystem.Instance, segment, 1);
        var length = reader.Length;
        while (true)
        {
            var at = reader.Position;
            if (reader.Next(length, out _, out _, out _, out _) != ReadOutcome.Record)
            {
                return offsets;
            }

            offsets.Add(at);
        }
    }

    private static void FlipByte(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        var b = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(b ^ 0x10));
    }
}
