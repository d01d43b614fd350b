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

    [LoggerMessage(EventId = EventIds.PostgresUnpartitioned, Level = LogLevel.Warning,
        Message = "{Table} was made by an earlier version, without partitions: the retention deletes its old rows in chunks (which " +
            "leaves dead rows for VACUUM) instead of dropping a day at a time; docs/operations.md, \"Converting to partitions\", says how to convert it")]
    public static partial void Unpartitioned(ILogger logger, string table);

    [LoggerMessage(EventId = EventIds.PostgresPartitionDropped, Level = LogLevel.Information,
        Message = "Partition {Partition} dropped: its whole day was received more than {Retention} ago")]
    public static partial void PartitionDropped(ILogger logger, string partition, string retention);

    [LoggerMessage(EventId = EventIds.PostgresPartitionFailed, Level = LogLevel.Warning,
        Message = "Making or dropping the day partitions of {Tables} failed ({Reason}); tried again at the next sweep, ingest goes on " +
            "(said once a minute at most)")]
    public static partial void PartitionsFailed(ILogger logger, string tables, string reason);
}
