using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;

namespace Spillway.Sinks.PostgreSql;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.PostgresOpened, Level = LogLevel.Information,
        Message = "PostgreSQL {Version} at {Host}:{Port}, database {Database}, tables {Messages} and {Rejects}")]
    public static partial void Opened(ILogger logger, Version version, string? host, int port, string? database, string messages, string rejects);

    [LoggerMessage(EventId = EventIds.PostgresRefused, Level = LogLevel.Warning,
        Message = "PostgreSQL refused {Count} message(s) ({Reason}): stored as refused-by-db rejects, and the rest of the batch stored")]
    public static partial void Refused(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = EventIds.RetentionInForce, Level = LogLevel.Information,
        Message = "Retention of {Tables}: {Retention}")]
    public static partial void RetentionInForce(ILogger logger, string tables, string retention);

    [LoggerMessage(EventId = EventIds.RetentionSweepFailed, Level = LogLevel.Warning,
        Message = "Deleting the rows past the retention from {Tables} failed ({Reason}); tried again at the next sweep, ingest goes on")]
    public static partial void RetentionSweepFailed(ILogger logger, string tables, string reason);
}
