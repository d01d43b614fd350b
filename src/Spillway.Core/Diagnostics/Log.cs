using Microsoft.Extensions.Logging;

namespace Spillway.Diagnostics;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.BatchWriteFailed, Level = LogLevel.Warning,
        Message = "Writing a batch of {Count} items failed (attempt {Attempt}, failing since {Since:O}): {Reason}; retrying in {Delay}")]
    public static partial void BatchWriteFailed(ILogger logger, Exception exception, int count, int attempt, DateTimeOffset since, string reason, TimeSpan delay);

    [LoggerMessage(EventId = EventIds.BatchWriteRecovered, Level = LogLevel.Information,
        Message = "Batch of {Count} items stored after {Attempts} attempts")]
    public static partial void BatchWriteRecovered(ILogger logger, int count, int attempts);

    [LoggerMessage(EventId = EventIds.BadInput, Level = LogLevel.Warning,
        Message = "Input from {Transport} {Peer}: {Reason} ({Detail}); further '{Reason}' are logged at most every {Interval}")]
    public static partial void BadInput(ILogger logger, string transport, string peer, string reason, string detail, TimeSpan interval);

    [LoggerMessage(EventId = EventIds.BadInputSuppressed, Level = LogLevel.Warning,
        Message = "{Count} more '{Reason}' since the last report; latest from {Transport} {Peer} ({Detail})")]
    public static partial void BadInputSuppressed(ILogger logger, long count, string reason, string transport, string peer, string detail);

}
