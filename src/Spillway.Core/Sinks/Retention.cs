namespace Spillway.Sinks;

/// <summary>
/// When a sink deletes what it no longer keeps (the rows older than its retention, and the batch ledger's entries
/// older than <see cref="LedgerAge"/>): after a write, at most once an <see cref="Interval"/>, a chunk per table at a
/// time, so that a sweep never holds the database long enough to slow ingest; while chunks are left behind, after
/// every write until it has caught up. The same for every sink.
/// </summary>
public sealed class Retention
{
    /// <summary>
    /// How long the ledger remembers a committed batch. A batch is retried within seconds or minutes (at most as long as
    /// the database is down and the spill log holds it): a week is ample, and keeps the ledger small.
    /// </summary>
    public static readonly TimeSpan LedgerAge = TimeSpan.FromDays(7);

    /// <summary>The most time between two sweeps while nothing is left behind.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    /// <summary>The rows one chunk deletes, at most, per table.</summary>
    public const int DefaultChunkRows = 5000;

    private readonly TimeProvider _time;
    private long? _sweptAt;
    private bool _behind;

    /// <summary>Keeps rows for <paramref name="age"/> (by the time they were received); <see cref="TimeSpan.Zero"/> keeps every row.</summary>
    public Retention(TimeSpan age, TimeProvider time, int chunkRows = DefaultChunkRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(age, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        Age = age;
        ChunkRows = chunkRows;
        _time = time;
    }

    /// <summary>How long rows are kept; <see cref="TimeSpan.Zero"/> for ever.</summary>
    public TimeSpan Age { get; }

    /// <summary>The most rows one chunk deletes from one table.</summary>
    public int ChunkRows { get; }

    /// <summary>Rows of messages and rejects deleted since the start.</summary>
    public long Deleted { get; private set; }

    /// <summary>Ledger entries deleted since the start.</summary>
    public long LedgerDeleted { get; private set; }

    /// <summary>What the retention does, in a line for the log at start.</summary>
    public string Description => Age == TimeSpan.Zero
        ? "every row is kept (no --retention): the tables grow until rows are deleted by other means"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"rows received more than {Format(Age)} ago are deleted, {ChunkRows:N0} at a time per table, at least every {Format(Interval)}");

    /// <summary>A duration in the largest whole unit that says it exactly: 30 days, 12 hours, 90 seconds.</summary>
    public static string Format(TimeSpan duration) => duration switch
    {
        _ when duration.Ticks % TimeSpan.TicksPerDay == 0 => Plural(duration.Ticks / TimeSpan.TicksPerDay, "day"),
        _ when duration.Ticks % TimeSpan.TicksPerHour == 0 => Plural(duration.Ticks / TimeSpan.TicksPerHour, "hour"),
        _ when duration.Ticks % TimeSpan.TicksPerMinute == 0 => Plural(duration.Ticks / TimeSpan.TicksPerMinute, "minute"),
        _ when duration.Ticks % TimeSpan.TicksPerSecond == 0 => Plural(duration.Ticks / TimeSpan.TicksPerSecond, "second"),
        _ => Plural((long)duration.TotalMilliseconds, "millisecond"),
    };

    private static string Plural(long count, string unit) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{count} {unit}{(count == 1 ? "" : "s")}");

    /// <summary>The cutoffs of a sweep when one is due now, else null. Not thread-safe: one sink's.</summary>
    public RetentionSweep? Due()
    {
        if (!_behind && _sweptAt is { } at && _time.GetElapsedTime(at) < Interval)
        {
            return null;
        }

        _sweptAt = _time.GetTimestamp();
        var now = _time.GetUtcNow();
        return new RetentionSweep(Age == TimeSpan.Zero ? null : now - Age, now - LedgerAge);
    }

    /// <summary>
    /// Counts what a sweep deleted from each table; a full chunk means more may be left, swept after the next write.
    /// </summary>
    public void Swept(int messages, int rejects, int ledger = 0)
    {
        Deleted += messages + rejects;
        LedgerDeleted += ledger;
        _behind = messages >= ChunkRows || rejects >= ChunkRows || ledger >= ChunkRows;
    }
}

/// <summary>What one sweep deletes: the rows received before <see cref="RowsBefore"/> (none when every row is kept), and
/// the ledger's entries committed before <see cref="LedgerBefore"/>.</summary>
public readonly record struct RetentionSweep(DateTimeOffset? RowsBefore, DateTimeOffset LedgerBefore);
