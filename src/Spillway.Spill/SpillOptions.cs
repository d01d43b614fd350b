namespace Spillway.Spill;

/// <summary>When the spill log forces what it has written to the disk.</summary>
public enum SpillFsync
{
    /// <summary>
    /// Group commit: each write of the records appended since the last one is fsynced before they count as durable,
    /// so what is acknowledged survives a power loss. The default.
    /// </summary>
    Batch,

    /// <summary>Every <see cref="SpillOptions.FsyncInterval"/>: a power loss can take that much; a crash of the process takes nothing.</summary>
    Interval,

    /// <summary>Never: the kernel writes when it likes. A crash of the process takes nothing; a power loss can take much.</summary>
    Never,
}

/// <summary>Where the spill log lives and how much of the disk it may use.</summary>
public sealed record SpillOptions
{
    /// <summary>The default of <see cref="MaxBytes"/>: 1 GiB.</summary>
    public const long DefaultMaxBytes = 1024L * 1024 * 1024;

    /// <summary>
    /// The memory bound (<see cref="Pipeline.IngestBufferOptions.MaxBytes"/>) serve gives the spill log unless told
    /// otherwise: 2 MiB of records waiting for the disk (as much again for senders that are refused rather than held),
    /// and 2 MiB in the copy writers that keep up take their batches from. The disk holds the burst; memory beyond this
    /// bought no speed (docs/performance.md, "Memory").
    /// </summary>
    public const long DefaultMemoryBytes = 2L * 1024 * 1024;

    /// <summary>The largest segment file: 64 MiB, or a sixteenth of the budget when that is less.</summary>
    public const long DefaultSegmentBytes = 64L * 1024 * 1024;

    /// <summary>The directory of segment files, checkpoints and quarantine; created if missing.</summary>
    public required string Directory { get; init; }

    /// <summary>Most bytes of records held on disk; beyond it TCP pushes back and UDP drops.</summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>When a segment file is closed and a new one begun. A segment is deleted once all its records are stored.</summary>
    public long SegmentBytes { get; init; } = DefaultSegmentBytes;

    /// <summary>When written records are forced to the disk.</summary>
    public SpillFsync Fsync { get; init; } = SpillFsync.Batch;

    /// <summary>The fsync period under <see cref="SpillFsync.Interval"/>.</summary>
    public TimeSpan FsyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The smallest segment file.</summary>
    public const long MinSegmentBytes = 64 * 1024;

    /// <summary>
    /// The segment size for a budget: <see cref="SegmentBytes"/>, kept to a sixteenth of the budget (at least
    /// <see cref="MinSegmentBytes"/>) so that segments are freed, and space given back, while the log is in use.
    /// </summary>
    public long SegmentBytesFor(long budget) => Math.Max(MinSegmentBytes, Math.Min(SegmentBytes, budget / 16));

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Directory, nameof(Directory));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytes, 1024L * 1024, nameof(MaxBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(SegmentBytes, MinSegmentBytes, nameof(SegmentBytes));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(FsyncInterval, TimeSpan.Zero, nameof(FsyncInterval));
        if (!Enum.IsDefined(Fsync))
        {
            throw new ArgumentOutOfRangeException(nameof(Fsync), Fsync, "Not a fsync policy.");
        }
    }
}
