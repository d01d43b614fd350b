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
        Message = "Spill log {Directory} failed: {Reason}. {Unwritten} messages accepted and not yet on disk cannot be made durable ({Answered} of them from HTTP requests, answered 503); what was on disk before is kept; the service stops")]
    public static partial void Failed(ILogger logger, Exception exception, string directory, string reason, int unwritten, int answered);

    [LoggerMessage(EventId = EventIds.SpillFull, Level = LogLevel.Warning,
        Message = "Spill log full: {Bytes} bytes on disk reach its budget ({Budget} bytes; --spill-max-bytes is {MaxBytes}); TCP is pushed back, HTTP answered 503 and UDP dropped until the database takes some (said once a minute at most)")]
    public static partial void Full(ILogger logger, long bytes, long budget, long maxBytes);

    [LoggerMessage(EventId = EventIds.SpillBehind, Level = LogLevel.Warning,
        Message = "Spill log behind: {Bytes} bytes of records wait to be written to the disk, as many as --max-buffer-bytes ({MaxBytes}) allows in memory; TCP is pushed back and UDP dropped until the disk catches up (said once a minute at most)")]
    public static partial void Behind(ILogger logger, long bytes, long maxBytes);

    [LoggerMessage(EventId = EventIds.SpillRefusing, Level = LogLevel.Warning,
        Message = "Spill log {Directory} refuses writes: {Reason}. The write was rolled back; {GivenBack} messages of HTTP requests were given back (answered 503, nothing of them kept), {Kept} others (from TCP, or of requests written in part) are held in memory to be written; TCP is pushed back, HTTP answered 503 and UDP dropped until the disk takes writes again, tried with backoff (said once a minute at most)")]
    public static partial void Refusing(ILogger logger, string directory, string reason, int givenBack, int kept);

    [LoggerMessage(EventId = EventIds.SpillResumed, Level = LogLevel.Information,
        Message = "Spill log {Directory} takes writes again, after {Duration}")]
    public static partial void Resumed(ILogger logger, string directory, TimeSpan duration);

    [LoggerMessage(EventId = EventIds.SpillHousekeepingBehind, Level = LogLevel.Warning,
        Message = "Spill log {Directory}: persisting the checkpoint or freeing stored segments failed ({Reason}); tried again shortly, nothing is lost meanwhile (said once a minute at most)")]
    public static partial void HousekeepingBehind(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = EventIds.SpillBudgetCapped, Level = LogLevel.Warning,
        Message = "Spill log {Directory}: --spill-max-bytes is {MaxBytes} bytes but its filesystem has {Free} bytes free; the log keeps to {Budget} bytes, in segments of {SegmentBytes} (said once a minute at most)")]
    public static partial void BudgetCapped(ILogger logger, string directory, long maxBytes, long free, long budget, long segmentBytes);

    [LoggerMessage(EventId = EventIds.SpillJournalRetry, Level = LogLevel.Warning,
        Message = "Spill log {Directory}: the journal of batches could not be written ({Reason}); the next batch waits and is tried again with backoff")]
    public static partial void JournalRetry(ILogger logger, string directory, string reason);

    [LoggerMessage(EventId = EventIds.SpillReadRetry, Level = LogLevel.Warning,
        Message = "Spill log {Directory}: a segment could not be read ({Reason}); the writers wait and it is tried again with backoff (said once a minute at most)")]
    public static partial void ReadRetry(ILogger logger, string directory, string reason);
}
