using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;

namespace Spillway.Sinks.Sqlite;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.SinkOpened, Level = LogLevel.Information,
        Message = "SQLite database {Path} opened (journal_mode={JournalMode}, synchronous={Synchronous})")]
    public static partial void Opened(ILogger logger, string path, string journalMode, SqliteSynchronous synchronous);

    [LoggerMessage(EventId = EventIds.JournalModeNotWal, Level = LogLevel.Warning,
        Message = "SQLite database {Path} could not switch to WAL (journal_mode is {JournalMode}); writes will block readers")]
    public static partial void JournalModeNotWal(ILogger logger, string path, string journalMode);

    [LoggerMessage(EventId = EventIds.SqliteDamaged, Level = LogLevel.Warning,
        Message = "SQLite database {Path} fails PRAGMA quick_check ({Finding}); writing into it anyway, as --sqlite-allow-damaged says")]
    public static partial void Damaged(ILogger logger, string path, string finding);

    [LoggerMessage(EventId = EventIds.SqliteFileReplaced, Level = LogLevel.Error,
        Message = "SQLite database {Path} was deleted or replaced under the running service ({What}): reopened at the path, and the " +
            "batch written there again; what earlier batches stored is in the file that was removed")]
    public static partial void FileReplaced(ILogger logger, string path, string what);

    [LoggerMessage(EventId = EventIds.RetentionInForce, Level = LogLevel.Information,
        Message = "Retention of {Tables}: {Retention}")]
    public static partial void RetentionInForce(ILogger logger, string tables, string retention);

    [LoggerMessage(EventId = EventIds.RetentionSweepFailed, Level = LogLevel.Warning,
        Message = "Deleting the rows past the retention from {Tables} failed ({Reason}); tried again at the next sweep, ingest goes on")]
    public static partial void RetentionSweepFailed(ILogger logger, string tables, string reason);

    [LoggerMessage(EventId = EventIds.SqliteSizeBound, Level = LogLevel.Warning,
        Message = "SQLite database {Path} reached --max-db-bytes ({Bound}): the oldest rows are deleted to keep it under, {Deleted} so far; " +
            "the oldest kept was received at {OldestKept} (said once a minute at most)")]
    public static partial void SizeBoundDeleting(ILogger logger, string path, string bound, long deleted, string oldestKept);

    [LoggerMessage(EventId = EventIds.SqliteNoAutoVacuum, Level = LogLevel.Warning,
        Message = "SQLite database {Path} was made without auto_vacuum = INCREMENTAL: the space of deleted rows is reused, never given " +
            "back to the filesystem. To convert it, stop the service and run: sqlite3 {Path} 'PRAGMA auto_vacuum = INCREMENTAL; VACUUM;'")]
    public static partial void NoAutoVacuum(ILogger logger, string path);
}
