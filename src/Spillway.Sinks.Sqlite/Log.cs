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
}
