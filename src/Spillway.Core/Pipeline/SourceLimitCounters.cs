using System.Collections.Concurrent;

namespace Spillway.Pipeline;

/// <summary>How often a source's explicit limits bit, for <c>/metrics</c>: each count is of input turned away whole.</summary>
public sealed class SourceLimitCounters
{
    private long _connectionsRefused;
    private long _idleClosed;
    private long _requestsRefused;
    private readonly ConcurrentDictionary<string, long> _handshakesRefused = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _unauthorized = new(StringComparer.Ordinal);

    /// <summary>Connections accepted and closed at once because the listener held its most already.</summary>
    public long ConnectionsRefused => Volatile.Read(ref _connectionsRefused);

    /// <summary>Connections closed after their idle timeout passed with nothing received.</summary>
    public long IdleClosed => Volatile.Read(ref _idleClosed);

    /// <summary>Requests answered 503 before their body was read, because bodies in flight held their most already.</summary>
    public long RequestsRefused => Volatile.Read(ref _requestsRefused);

    /// <summary>
    /// TLS handshakes refused, by reason (such as <c>not-tls</c> or <c>peer-not-allowed</c>): a fixed set of names, never
    /// taken from the input. A snapshot.
    /// </summary>
    public IReadOnlyDictionary<string, long> HandshakesRefused => _handshakesRefused.ToDictionary(StringComparer.Ordinal);

    /// <summary>Requests answered 401, by reason (<c>no-api-key</c>, <c>wrong-api-key</c>). A snapshot.</summary>
    public IReadOnlyDictionary<string, long> RequestsUnauthorized => _unauthorized.ToDictionary(StringComparer.Ordinal);

    /// <summary>Counts a request answered 401 for <paramref name="reason"/>, one of the source's fixed reasons.</summary>
    public void Unauthorized(string reason) => _unauthorized.AddOrUpdate(reason, 1, static (_, n) => n + 1);

    /// <summary>Counts a TLS handshake refused for <paramref name="reason"/>, one of the source's fixed reasons.</summary>
    public void HandshakeRefused(string reason) => _handshakesRefused.AddOrUpdate(reason, 1, static (_, n) => n + 1);

    /// <summary>Counts a connection refused at the limit.</summary>
    public void ConnectionRefused() => Interlocked.Increment(ref _connectionsRefused);

    /// <summary>Counts a connection closed for idleness.</summary>
    public void ClosedIdle() => Interlocked.Increment(ref _idleClosed);

    /// <summary>Counts a request refused at the limit of bodies in flight.</summary>
    public void RequestRefused() => Interlocked.Increment(ref _requestsRefused);
}
