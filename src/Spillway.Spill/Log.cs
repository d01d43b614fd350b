using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;

namespace Spillway.Spill;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.SpillOpened, Level = LogLevel.Information,
        Message = "Spill log {Directory} opened: {Replay} records ({ReplayBytes} bytes) from before the start to store, checkpoint at {Checkpoint}, next record {Next}")]
    public static partial void Opened(ILogger logger, string directory, long replay, long replayBytes, long checkpoint, long next);

    [LoggerMessage(EventId = EventIds.SpillDamage, Level = LogLevel.Error,
        Message = "Spill log damage: {Bytes} bytes at offset {Offset} of {Segment} are not a record; skipped, the records around them kept, the bytes moved to {Quarantine}")]
    public static partial void Damage(ILogger logger, string segment, long offset, long bytes, string quarantine);

    [LoggerMessage(EventId = EventIds.SpillTornTail, Level = LogLevel.Warning,
        Message = "Spill log ended in a torn write (the process stopped mid-write): {Bytes} bytes at offset {Offset} of {Segment} cut off and moved to {Quarantine}")]
    public static partial void TornTail(ILogger logger, string segment, long offset, long bytes, string quarantine);

    [LoggerMessage(EventId = EventIds.SpillCheckpointFallback, Level = LogLevel.Warning,
        Message = "Spill log checkpoint: {Damaged} of its two copies damaged or missing; replaying from {Checkpoint}, so some records may be written to the database again (the batch ledger skips the ones it knows)")]
    public static partial void CheckpointFallback(ILogger logger, int damaged, long checkpoint);

    [LoggerMessage(EventId = EventIds.SpillCutsDamaged, Level = LogLevel.Warning,
        Message = "Spill log journal of batches: {Damaged} entries damaged and ignored; a batch they named may be stored twice, none is lost")]
    public static partial void CutsDamaged(ILogger logger, int damaged);

    [LoggerMessage(EventId = EventIds.SpillFailed, Level = LogLevel.Critical,
        Message = "Spill log {Directory} failed: {Reason}. Records not yet on disk cannot be made durable; the service stops")]
    public static partial void Failed(ILogger logger, Exception exception, string directory, string reason);

    [LoggerMessage(EventId = EventIds.SpillFull, Level = LogLevel.Warning,
        Message = "Spill log full: {Bytes} bytes on disk reach --spill-max-bytes ({MaxBytes}); TCP is pushed back and UDP dropped until the database takes some (said once a minute at most)")]
    public static partial void Full(ILogger logger, long bytes, long maxBytes);

    [LoggerMessage(EventId = EventIds.SpillBehind, Level = LogLevel.Warning,
        Message = "Spill log behind: {Bytes} bytes of records wait to be written to the disk, as many as --max-buffer-bytes ({MaxBytes}) allows in memory; TCP is pushed back and UDP dropped until the disk catches up (said once a minute at most)")]
    public static partial void Behind(ILogger logger, long bytes, long maxBytes);
}
