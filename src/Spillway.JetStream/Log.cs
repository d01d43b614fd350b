using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;

namespace Spillway.JetStream;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.JetStreamConnected, Level = LogLevel.Information,
        Message = "NATS JetStream at {Url}: connected to {Server}, stream {Stream}, messages of at most {MaxMessageBytes} bytes")]
    public static partial void Connected(ILogger logger, string url, string server, string stream, int maxMessageBytes);

    [LoggerMessage(EventId = EventIds.JetStreamCreated, Level = LogLevel.Information,
        Message = "JetStream {Kind} {Name} created: {Settings}")]
    public static partial void Created(ILogger logger, string kind, string name, string settings);

    [LoggerMessage(EventId = EventIds.JetStreamDiffers, Level = LogLevel.Warning,
        Message = "JetStream {Kind} {Name} exists with other settings than this node's, and is used as it is: {Differences}")]
    public static partial void Differs(ILogger logger, string kind, string name, string differences);

    [LoggerMessage(EventId = EventIds.JetStreamStateUnavailable, Level = LogLevel.Debug,
        Message = "The JetStream stream's state could not be read for the metrics: {Reason}")]
    public static partial void StateUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.JetStreamUndecodable, Level = LogLevel.Error,
        Message = "Stream message {Sequence} is not a Spillway batch ({Reason}): its bytes are stored as an undecodable reject")]
    public static partial void Undecodable(ILogger logger, ulong sequence, string reason);

    [LoggerMessage(EventId = EventIds.JetStreamAckFailed, Level = LogLevel.Warning,
        Message = "A stored batch's acknowledgement did not reach the stream ({Reason}): it is delivered again after the ack wait, and " +
            "the database's ledger stores nothing twice")]
    public static partial void AckFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = EventIds.JetStreamTakeFailed, Level = LogLevel.Warning,
        Message = "Taking a batch from the stream failed ({Reason}); tried again every second, said once a minute")]
    public static partial void TakeFailed(ILogger logger, string reason);
}
