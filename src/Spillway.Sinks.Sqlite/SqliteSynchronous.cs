namespace Spillway.Sinks.Sqlite;

/// <summary>
/// SQLite's <c>PRAGMA synchronous</c>: how hard a commit waits for the disk. In WAL mode, <see cref="Normal"/> never
/// corrupts the database; a power loss (not a process crash) may lose the last transactions before a checkpoint.
/// <see cref="Full"/> makes every commit durable at the cost of one fsync per batch.
/// </summary>
public enum SqliteSynchronous
{
    /// <summary>No fsync at all: a power loss may corrupt the database.</summary>
    Off,

    /// <summary>Fsync at WAL checkpoints (the default).</summary>
    Normal,

    /// <summary>Fsync the WAL at every commit.</summary>
    Full,

    /// <summary>As Full, and also fsync the directory after deleting a journal.</summary>
    Extra,
}
