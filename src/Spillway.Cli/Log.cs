using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;

namespace Spillway.Cli;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.Listening, Level = LogLevel.Information, Message = "Listening on {Transport} {Endpoint}")]
    public static partial void Listening(ILogger logger, Spillway.Messages.Transport transport, System.Net.IPEndPoint endpoint);

    [LoggerMessage(EventId = EventIds.Stopping, Level = LogLevel.Information,
        Message = "{Signal} received: no new input; draining what was accepted (a second signal forces the stop)")]
    public static partial void StopRequested(ILogger logger, PosixSignal signal);

    [LoggerMessage(EventId = EventIds.StopForced, Level = LogLevel.Warning,
        Message = "{Signal} received again: forcing the stop; what is not stored yet will not be")]
    public static partial void StopForced(ILogger logger, PosixSignal signal);

    [LoggerMessage(EventId = EventIds.Draining, Level = LogLevel.Information,
        Message = "Draining: {Messages} messages ({Bytes} bytes) not stored yet")]
    public static partial void Draining(ILogger logger, long messages, long bytes);

    [LoggerMessage(EventId = EventIds.Drained, Level = LogLevel.Information,
        Message = "Drained: accepted={Accepted} stored={Stored} rejected={Rejected} dropped={Dropped}")]
    public static partial void Drained(ILogger logger, long accepted, long stored, long rejected, long dropped);

    [LoggerMessage(EventId = EventIds.Fatal, Level = LogLevel.Critical, Message = "The batch writer failed; stopping")]
    public static partial void WriterFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = EventIds.TlsReloadRequested, Level = LogLevel.Information,
        Message = "SIGHUP received: reading the TLS and API key files again ({Files} set(s)); open connections go on")]
    public static partial void ReloadRequested(ILogger logger, int files);
}
