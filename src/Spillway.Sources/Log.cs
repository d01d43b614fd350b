using System.Net;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;

namespace Spillway;

internal static partial class Log
{
    [LoggerMessage(EventId = EventIds.ConnectionOpened, Level = LogLevel.Debug, Message = "TCP connection from {Peer} opened")]
    public static partial void ConnectionOpened(ILogger logger, string peer);

    [LoggerMessage(EventId = EventIds.ConnectionClosed, Level = LogLevel.Debug, Message = "TCP connection from {Peer} closed")]
    public static partial void ConnectionClosed(ILogger logger, string peer);

    [LoggerMessage(EventId = EventIds.ConnectionReset, Level = LogLevel.Debug,
        Message = "TCP connection from {Peer} ended abruptly: {Reason}")]
    public static partial void ConnectionReset(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = EventIds.ConnectionFailed, Level = LogLevel.Error, Message = "TCP connection from {Peer} failed")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, string peer);

    [LoggerMessage(EventId = EventIds.UdpReceiveBuffer, Level = LogLevel.Information,
        Message = "UDP socket on {Endpoint} has a receive buffer of {Granted} bytes ({Requested} requested; Linux doubles the request and caps it at net.core.rmem_max)")]
    public static partial void UdpReceiveBuffer(ILogger logger, IPEndPoint endpoint, int granted, int requested);

    [LoggerMessage(EventId = EventIds.UdpReceiveFailed, Level = LogLevel.Error, Message = "Receiving UDP on {Endpoint} failed; receiving again in {Delay}")]
    public static partial void UdpReceiveFailed(ILogger logger, Exception exception, IPEndPoint endpoint, TimeSpan delay);

    [LoggerMessage(EventId = EventIds.AcceptFailed, Level = LogLevel.Error,
        Message = "Accepting TCP connections on {Endpoint} failed ({Failures} times in a row); trying again in {Delay}, with backoff, the connections open served meanwhile (said once a minute at most)")]
    public static partial void AcceptFailed(ILogger logger, Exception exception, EndPoint endpoint, int failures, TimeSpan delay);

    [LoggerMessage(EventId = EventIds.TlsLoaded, Level = LogLevel.Information, Message = "TLS ({Cause}): new handshakes present the {Credentials}")]
    public static partial void TlsLoaded(ILogger logger, string cause, Tls.TlsCredentials credentials);

    [LoggerMessage(EventId = EventIds.TlsReloadFailed, Level = LogLevel.Error,
        Message = "TLS ({Cause}): the files do not load, so handshakes go on presenting the {Credentials}; tried again when a file changes or on SIGHUP: {Error}")]
    public static partial void TlsReloadFailed(ILogger logger, string cause, string error, Tls.TlsCredentials credentials);

    [LoggerMessage(EventId = EventIds.TlsWatchFailed, Level = LogLevel.Warning,
        Message = "TLS: watching {Directory} for new certificate files failed; SIGHUP still reloads them")]
    public static partial void TlsWatchFailed(ILogger logger, Exception exception, string directory);

    [LoggerMessage(EventId = EventIds.ApiKeysLoaded, Level = LogLevel.Information, Message = "API keys ({Cause}): {Count} keys in force from {Path}")]
    public static partial void ApiKeysLoaded(ILogger logger, string cause, int count, string path);

    [LoggerMessage(EventId = EventIds.ApiKeysReloadFailed, Level = LogLevel.Error,
        Message = "API keys ({Cause}): the file does not load, so the {Count} keys in force stay; tried again when it changes or on SIGHUP: {Error}")]
    public static partial void ApiKeysReloadFailed(ILogger logger, string cause, string error, int count);

    [LoggerMessage(EventId = EventIds.AdminListening, Level = LogLevel.Information, Message = "Serving /metrics and /health on {Endpoint}")]
    public static partial void AdminListening(ILogger logger, IPEndPoint endpoint);

    [LoggerMessage(EventId = EventIds.ApiKeysWatchFailed, Level = LogLevel.Warning,
        Message = "API keys: watching {Directory} for a new keys file failed; SIGHUP still reloads it")]
    public static partial void ApiKeysWatchFailed(ILogger logger, Exception exception, string directory);
}
