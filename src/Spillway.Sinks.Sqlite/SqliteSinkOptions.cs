namespace Spillway.Sinks.Sqlite;

/// <summary>Where the SQLite sink writes and how.</summary>
public sealed record SqliteSinkOptions
{
    /// <summary>The default database file, relative to the working directory.</summary>
    public const string DefaultPath = "spillway.db";

    /// <summary>The database file; created, with its directory, if missing. <value>The default is <c>spillway.db</c>.</value></summary>
    public string Path { get; init; } = DefaultPath;

    /// <summary>
    /// How hard a commit waits for the disk. <value>The default is <see cref="SqliteSynchronous.Normal"/>: in WAL mode
    /// that survives any process crash; only a power loss may lose the last batches.</value>
    /// </summary>
    public SqliteSynchronous Synchronous { get; init; } = SqliteSynchronous.Normal;

    /// <summary>
    /// How long a write waits for a lock held by another connection (another process reading or writing the file)
    /// before the batch fails and is retried with backoff. <value>The default is 5 s.</value>
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether to write into a database that fails <c>PRAGMA quick_check</c> at start (with a warning) instead of
    /// refusing to start. <value>The default is false.</value>
    /// </summary>
    public bool AllowDamaged { get; init; }

    /// <summary>
    /// How long rows are kept, by the time they were received: older ones are deleted from <c>messages</c> and
    /// <c>rejects</c> in chunks between batches. <value>The default, <see cref="TimeSpan.Zero"/>, keeps every row.</value>
    /// </summary>
    public TimeSpan Retention { get; init; }

    /// <summary>The most rows one chunk of the retention deletes from a table. <value>The default is 5,000.</value></summary>
    public int RetentionChunkRows { get; init; } = Sinks.Retention.DefaultChunkRows;

    /// <summary>
    /// The most bytes the database file may hold: past it, the oldest rows of <c>messages</c> and <c>rejects</c> are
    /// deleted, a chunk at a time, until it is a tenth under, and the pages given back to the filesystem.
    /// <value>The default, 0, sets no bound.</value>
    /// </summary>
    public long MaxBytes { get; init; }

    /// <summary>The least <see cref="MaxBytes"/> may be: below it the schema and one batch would not fit.</summary>
    public const long MinMaxBytes = 1L << 20;

    /// <summary>
    /// The indexes on <c>messages</c> besides its id (the time index is kept whatever this says while a retention
    /// deletes by it). <value>The default is <see cref="MessageIndex.Default"/>.</value>
    /// </summary>
    public MessageIndexes Indexes { get; init; } = MessageIndex.Default;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that is out of range.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Path, nameof(Path));
        if (!Enum.IsDefined(Synchronous))
        {
            throw new ArgumentOutOfRangeException(nameof(Synchronous), Synchronous, "Unknown synchronous mode.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(BusyTimeout, TimeSpan.FromSeconds(1), nameof(BusyTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(Retention, TimeSpan.Zero, nameof(Retention));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetentionChunkRows, 1, nameof(RetentionChunkRows));
        if (MaxBytes != 0)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytes, MinMaxBytes, nameof(MaxBytes));
        }
    }
}
