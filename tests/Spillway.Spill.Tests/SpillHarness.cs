using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Spill.Tests;

/// <summary>A spill directory of its own per test, opened and reopened as a service restart would.</summary>
internal sealed class SpillHarness : IDisposable
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public SpillHarness()
    {
        Directory = Path.Combine(Path.GetTempPath(), "spillway-spill-" + Guid.NewGuid().ToString("N"));
    }

    public string Directory { get; }

    public IngestStats Stats { get; private set; } = new();

    public static BatchWriterOptions Limits(int batchSize = 100) =>
        new() { BatchSize = batchSize, Linger = TimeSpan.FromMilliseconds(1) };

    public SpillBuffer Open(long maxBytes = SpillOptions.DefaultMaxBytes, long segmentBytes = SpillOptions.DefaultSegmentBytes,
        int memoryMessages = 100_000, SpillFsync fsync = SpillFsync.Batch, long memoryBytes = IngestBufferOptions.DefaultMaxBytes,
        ISpillFileSystem? files = null)
    {
        Stats = new IngestStats();
        return SpillBuffer.Open(
            new SpillOptions { Directory = Directory, MaxBytes = maxBytes, SegmentBytes = segmentBytes, Fsync = fsync },
            new IngestBufferOptions { MaxMessages = memoryMessages, MaxBytes = memoryBytes },
            Stats,
            TimeProvider.System,
            NullLogger<SpillBuffer>.Instance,
            files ?? OsFileSystem.Instance);
    }

    /// <summary>
    /// Holds the flusher, the next time it has written what was appended, until <c>release</c> is set; <c>held</c>
    /// completes once it is held. The test must set <c>release</c> whatever happens, or disposing the log waits forever.
    /// </summary>
    public static (Task Held, TaskCompletionSource Release) HoldFlusherOnce(SpillBuffer spill)
    {
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var once = 0;
        spill.BeforeCheckpoint = () =>
        {
            if (Interlocked.Exchange(ref once, 1) != 0)
            {
                return Task.CompletedTask;
            }

            held.SetResult();
            return release.Task;
        };
        return (held.Task, release);
    }

    /// <summary>A message whose text is its number, with every syslog field set on the even ones.</summary>
    public static Message Item(int n) => n % 2 == 0
        ? new Message(At.AddSeconds(n), Transport.Udp, "10.0.0.1:514", "message " + n.ToString(CultureInfo.InvariantCulture), 100)
        {
            Facility = 4,
            Severity = 6,
            Timestamp = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.FromHours(2)).AddTicks(n),
            Hostname = "host",
            AppName = "app",
            ProcId = "42",
            MsgId = "ID" + n.ToString(CultureInfo.InvariantCulture),
            StructuredData = "[a b=\"c\"]",
        }
        : new Message(At.AddSeconds(n), Transport.Tcp, "127.0.0.1:1", "message " + n.ToString(CultureInfo.InvariantCulture), 100);

    public static int NumberOf(IngestItem item) =>
        int.Parse(((Message)item).Text.AsSpan("message ".Length), CultureInfo.InvariantCulture);

    /// <summary>Takes batches until <paramref name="count"/> items have come, committing each when asked.</summary>
    public static async Task<List<IngestItem>> TakeAsync(SpillBuffer spill, int count, bool commit = true, List<Guid>? ids = null)
    {
        var taken = new List<IngestItem>();
        var batch = new Batch();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TestTimeouts.Wait);
        while (taken.Count < count)
        {
            Assert.True(await spill.TakeAsync(batch, Limits(Math.Min(100, count - taken.Count)), TimeProvider.System, timeout.Token), "the log ended early");
            Assert.Null(spill.Failure);
            taken.AddRange(batch.Messages);
            taken.AddRange(batch.Rejects);
            ids?.Add(batch.Id);
            if (commit)
            {
                spill.Commit(batch);
            }

            batch = new Batch();
        }

        return taken;
    }

    public static void Append(SpillBuffer spill, int from, int count)
    {
        for (var n = from; n < from + count; n++)
        {
            Assert.True(spill.TryWrite(Item(n)));
        }
    }

    public string[] SegmentFiles() => System.IO.Directory.GetFiles(Directory, "*.log").Order(StringComparer.Ordinal).ToArray();

    public string[] QuarantineFiles() =>
        System.IO.Directory.Exists(Path.Combine(Directory, "quarantine")) ? System.IO.Directory.GetFiles(Path.Combine(Directory, "quarantine")) : [];

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
