using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;
using static Spillway.Spill.Tests.SpillHarness;

namespace Spillway.Spill.Tests;

/// <summary>
/// A fault injected at a file operation of the log, chosen at random (seeded) among all it performs in a run: at the
/// start (recovery), while appending, reading, journalling, checkpointing and freeing segments, and at the stop. After
/// each, whatever a sender was told holds across a restart: a group of messages answered "kept" is stored exactly once,
/// one answered "not kept" never; what TCP handed in is stored once; nothing from before the fault is lost or doubled;
/// and no space or no descriptors never fails the log.
/// </summary>
public sealed class SpillFaultTests
{
    private const int Rounds = 40;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<FileFault> Faults => [FileFault.NoSpace, FileFault.NoDescriptors, FileFault.ShortWrite, FileFault.IoError];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task A_fault_at_any_file_operation_either_refuses_with_nothing_kept_or_keeps_what_survives_a_restart(FileFault fault)
    {
        // How many operations the fault could strike in a run without one (it varies a little with timing).
        var clean = new FaultyFileSystem(fault, failAt: int.MaxValue);
        var baseline = await RunAsync(clean, new Random(0));
        Assert.Null(baseline.Failure);
        Assert.Empty(baseline.Refused);
        var operations = clean.Eligible;
        Assert.True(operations >= 10, $"only {operations} operations the fault could strike: the workload does not exercise the log");

        // SPILLWAY_FAULT_SEED=N runs the iterations of a failure again, as its message gives them.
        var seed = int.TryParse(Environment.GetEnvironmentVariable("SPILLWAY_FAULT_SEED"), out var given) ? given : Environment.TickCount;
        var random = new Random(seed);
        var iterations = TestTimeouts.Iterations(30);
        var struck = 0;
        for (var i = 0; i < iterations; i++)
        {
            // The first few operations (the start: directory, lock, recovery) always, the rest at random.
            var failAt = i < 3 ? i + 1 : random.Next(1, operations + 1);
            var failCount = fault is FileFault.NoSpace or FileFault.NoDescriptors ? random.Next(1, 4) : 1;
            var files = new FaultyFileSystem(fault, failAt, failCount);
            string Where(string? failure) => $"seed {seed}, iteration {i}: {fault} at operation {failAt} of {operations} (x{failCount}): " +
                                              string.Join("; ", files.Log) + (failure is { } f ? "; the log failed: " + f : "");
            Outcome outcome;
            try
            {
                outcome = await RunAsync(files, new Random(random.Next()));
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"{Where(null)}: {ex}");
            }

            var where = Where(outcome.Failure);
            struck += files.Failed > 0 ? 1 : 0;
            outcome.AssertHeld(where, failureAllowed: fault == FileFault.IoError);
        }

        Assert.True(struck >= iterations / 2, $"the fault struck in only {struck} of {iterations} runs");
    }

    [Fact]
    public async Task A_refused_write_gives_back_a_whole_request_and_holds_one_already_written_in_part()
    {
        using var harness = new SpillHarness();
        var files = new FaultyFileSystem(FileFault.NoSpace, failAt: int.MaxValue);
        await using var spill = harness.Open(files: files);

        // A request written message by message (HTTP waiting for room): its first message is on disk, and the flusher is
        // held there, so that what comes next waits for its next write.
        var (held, release) = HoldFlusherOnce(spill);
        var partial = new Receipt(3);
        var whole = new Receipt(2);
        try
        {
            await spill.WriteAsync(WithReceipt(Item(0), partial), Ct);
            await held.WaitAsync(TestTimeouts.Wait, Ct);

            // The disk refuses the next write: the second message, and a whole request that came with it.
            files.FailFromNext(1);
            await spill.WriteAsync(WithReceipt(Item(1), partial), Ct);
            Assert.True(spill.TryWriteAll([WithReceipt(Item(10), whole), WithReceipt(Item(11), whole)]));
        }
        finally
        {
            release.TrySetResult();
        }

        // The whole request is given back (503, nothing of it kept); the one written in part is held and completed.
        await Assert.ThrowsAsync<IngestRefusedException>(() => whole.Stored.WaitAsync(TestTimeouts.Wait, Ct));
        Assert.Contains(files.Log, l => l.StartsWith("write 0", StringComparison.Ordinal));
        await Eventually.Until(() => spill.Refusal is null, "the disk to take writes again");
        await spill.WriteAsync(WithReceipt(Item(2), partial), Ct);
        await partial.Stored.WaitAsync(TestTimeouts.Wait, Ct);

        Assert.Equal(2, spill.GivenBack);
        Assert.Equal([0, 1, 2], (await TakeAsync(spill, 3)).Select(NumberOf));
        Assert.Equal(0, spill.Messages);
    }

    /// <summary>
    /// A run: a healthy start that leaves records to replay, then a start over <paramref name="files"/> that writes
    /// HTTP groups and TCP messages while a writer stores batches, then a healthy start that stores what is left.
    /// </summary>
    private static async Task<Outcome> RunAsync(FaultyFileSystem files, Random random)
    {
        using var harness = new SpillHarness();
        var outcome = new Outcome();
        const long maxBytes = 1024 * 1024; // segments of 64 KiB: several made and freed in a run

        // Before the fault: 200 records, 50 of them stored, the rest to replay.
        await using (var spill = harness.Open(maxBytes: maxBytes))
        {
            for (var n = 0; n < 200; n++)
            {
                Assert.True(spill.TryWrite(Item(n)));
                outcome.Tcp.Add(n);
            }

            await outcome.StoreAsync(spill, 50);
        }

        SpillBuffer? faulty = null;
        try
        {
            faulty = harness.Open(maxBytes: maxBytes, files: files);
        }
        catch (SpillUnavailableException ex)
        {
            // The start refused for the fault, saying why; nothing was written, and the next start goes on.
            Assert.Contains(harness.Directory, ex.Message, StringComparison.Ordinal);
            outcome.OpenRefused = ex.Message;
        }

        if (faulty is not null)
        {
            await using var spill = faulty;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            var writer = outcome.WriteBatchesAsync(spill, stop.Token);
            var next = 1000;
            for (var round = 0; round < Rounds && spill.Failure is null; round++)
            {
                var group = Enumerable.Range(next, random.Next(1, 9)).ToArray();
                next += group.Length;
                var receipt = new Receipt(group.Length);
                var items = group.Select(n => WithReceipt(Item(n), receipt)).ToArray();
                var accepted = false;
                var failed = false;
                try
                {
                    accepted = spill.TryWriteAll(items);
                    for (var k = 0; k < 10; k++, next++)
                    {
                        if (spill.TryWrite(Item(next)))
                        {
                            outcome.Tcp.Add(next);
                        }
                    }
                }
                catch (InvalidOperationException) when (spill.Failure is not null)
                {
                    failed = true; // the log failed meanwhile: it takes nothing more
                }

                if (accepted)
                {
                    await outcome.HearAsync(group, receipt);
                }

                if (failed)
                {
                    break;
                }
            }

            if (spill.Failure is null)
            {
                // Everything handed in is stored once the disk takes writes again.
                await Eventually.Until(() => spill.Messages == 0 || spill.Failure is not null, "every accepted message stored");
            }

            outcome.Failure = spill.Failure;
            if (outcome.Failure is null)
            {
                spill.Complete();
                await writer.WaitAsync(TestTimeouts.Wait, Ct);
            }
            else
            {
                await stop.CancelAsync();
                await writer.WaitAsync(TestTimeouts.Wait, Ct);
            }
        }

        // After the fault, on a healthy disk: what is left in the log is stored.
        await using (var spill = harness.Open(maxBytes: maxBytes))
        {
            await outcome.StoreAsync(spill, (int)spill.Messages);
            Assert.Null(spill.Failure);
            Assert.Equal(0, spill.Messages);
        }

        return outcome;
    }

    private static Message WithReceipt(Message message, Receipt receipt)
    {
        message.Receipt = receipt;
        return message;
    }

    /// <summary>What senders were told, and what the "database" (a ledger of batch ids, as the sinks keep) stored.</summary>
    private sealed class Outcome
    {
        private readonly HashSet<Guid> _ledger = [];
        private readonly Dictionary<int, int> _stored = [];
        private readonly Lock _lock = new();

        public List<int> Tcp { get; } = [];

        public List<int> Kept { get; } = [];

        public List<int> Refused { get; } = [];

        public List<int> Unknown { get; } = [];

        public string? Failure { get; set; }

        public string? OpenRefused { get; set; }

        public async Task HearAsync(int[] group, Receipt receipt)
        {
            try
            {
                await receipt.Stored.WaitAsync(TestTimeouts.Wait, Ct);
                Kept.AddRange(group);
            }
            catch (IngestRefusedException)
            {
                Refused.AddRange(group); // HTTP's 503: nothing of the request was kept
            }
            catch (Exception ex) when (ex is not TimeoutException)
            {
                Unknown.AddRange(group); // the log failed (the disk cannot be trusted)
            }
        }

        public async Task StoreAsync(SpillBuffer spill, int count)
        {
            var taken = 0;
            while (taken < count)
            {
                var batch = new Batch();
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                timeout.CancelAfter(TestTimeouts.Wait);
                Assert.True(await spill.TakeAsync(batch, Limits(100), TimeProvider.System, timeout.Token), "the log ended early");
                taken += batch.Count;
                Store(batch);
                spill.Commit(batch);
            }
        }

        public async Task WriteBatchesAsync(SpillBuffer spill, CancellationToken stop)
        {
            var batch = new Batch();
            try
            {
                while (await spill.TakeAsync(batch, Limits(50), TimeProvider.System, stop))
                {
                    Store(batch);
                    spill.Commit(batch);
                    batch = new Batch();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The log failed: the writers stop, what they had not stored is in the log.
            }
            catch (IOException) when (spill.Failure is not null)
            {
                // The read that failed the log.
            }
        }

        /// <summary>Stores a batch as a sink does: once per batch id, so a batch taken again after a restart is not stored twice.</summary>
        private void Store(Batch batch)
        {
            lock (_lock)
            {
                if (!_ledger.Add(batch.Id))
                {
                    return;
                }

                foreach (var message in batch.Messages)
                {
                    var n = NumberOf(message);
                    _stored[n] = _stored.GetValueOrDefault(n) + 1;
                }
            }
        }

        public void AssertHeld(string where, bool failureAllowed)
        {
            if (!failureAllowed)
            {
                Assert.True(Failure is null, $"{where}: no space or no descriptors failed the log");
            }

            Assert.True(_stored.Values.All(c => c == 1), $"{where}: stored twice: {string.Join(",", _stored.Where(p => p.Value > 1).Select(p => p.Key))}");
            Assert.True(Refused.All(n => !_stored.ContainsKey(n)), $"{where}: answered 503 and stored: {string.Join(",", Refused.Where(_stored.ContainsKey))}");
            Assert.True(Kept.All(_stored.ContainsKey), $"{where}: answered 200 and lost: {string.Join(",", Kept.Where(n => !_stored.ContainsKey(n)))}");
            var before = Enumerable.Range(0, 200);
            Assert.True(before.All(_stored.ContainsKey), $"{where}: on disk before the fault and lost");
            if (Failure is null)
            {
                // TCP has no answer: what it handed in, while the disk refused, is held and written once it takes writes again.
                Assert.True(Tcp.All(_stored.ContainsKey), $"{where}: accepted from TCP and lost: {string.Join(",", Tcp.Where(n => !_stored.ContainsKey(n)))}");
                Assert.Empty(Unknown);
            }

            var told = Tcp.Concat(Kept).Concat(Refused).Concat(Unknown).ToHashSet();
            Assert.True(_stored.Keys.All(told.Contains), $"{where}: stored and never accepted");
        }
    }
}
