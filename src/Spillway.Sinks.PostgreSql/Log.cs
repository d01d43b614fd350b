using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;

namespace Spillway.Sinks.PostgreSql;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.PostgresOpened, Level = LogLevel.Information,
        Message = "PostgreSQL {Version} at {Host}:{Port}, database {Database}, tables {Messages} and {Rejects}")]
    public static partial void Opened(ILogger logger, Version version, string? host, int port, string? database, string messages, string rejects);

    [LoggerMessage(EventId = EventIds.PostgresRefused, Level = LogLevel.Warning,
        Message = "PostgreSQL cannot hold {Count} message(s) of a batch ({Reason}): they are stored as refused-by-db rejects")]
    public static partial void Refused(ILogger logger, int count, string reason);
}
