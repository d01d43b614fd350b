using System.Net;
using Spillway.Pipeline;

namespace Spillway.Http;

/// <summary>Where the HTTP source listens, how large a request it takes, and what a full buffer gets.</summary>
public sealed record HttpSourceOptions
{
    /// <summary>The default listen endpoint: 127.0.0.1:5515.</summary>
    public static readonly IPEndPoint DefaultEndpoint = new(IPAddress.Loopback, 5515);

    /// <summary>The default of <see cref="MaxBodyBytes"/>: 4 MiB.</summary>
    public const long DefaultMaxBodyBytes = 4 << 20;

    /// <summary>Endpoints to listen on (none turns the source off); port 0 picks a free port. <value>The default is 127.0.0.1:5515.</value></summary>
    public IReadOnlyList<IPEndPoint> Endpoints { get; init; } = [DefaultEndpoint];

    /// <summary>
    /// Endpoints to serve the same requests on over HTTPS, with the source's TLS credentials. <value>The default is none.</value>
    /// </summary>
    public IReadOnlyList<IPEndPoint> HttpsEndpoints { get; init; } = [];

    /// <summary>
    /// Endpoints that serve the endpoints given beside <c>/ingest</c> (<c>/metrics</c>, <c>/health</c>) alone, plain HTTP;
    /// when there are any, the other endpoints serve <c>/ingest</c> alone. <value>The default is none: all are served on
    /// every endpoint.</value>
    /// </summary>
    public IReadOnlyList<IPEndPoint> AdminEndpoints { get; init; } = [];

    /// <summary>The largest request body; a larger one is answered 413. <value>The default is 4 MiB.</value></summary>
    public long MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    /// <summary>The largest message; a longer one is kept as an oversize reject. <value>The default is 64 KiB.</value></summary>
    public int MaxMessageBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// What a request that finds the buffer full gets. <see cref="FullPolicy.Drop"/> answers 503 with Retry-After and
    /// accepts none of it, so the client can send it again whole; <see cref="FullPolicy.Wait"/> holds the request until
    /// there is room. <value>The default is <see cref="FullPolicy.Drop"/>.</value>
    /// </summary>
    public FullPolicy WhenFull { get; init; } = FullPolicy.Drop;

    /// <summary>The Retry-After of a 503. <value>The default is 1 s.</value></summary>
    public TimeSpan RetryAfter { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The default of <see cref="MaxBodyBytesInFlight"/>: 64 MiB.</summary>
    public const long DefaultMaxBodyBytesInFlight = 64L << 20;

    /// <summary>
    /// The most bytes of request bodies read at once, across requests (a body's Content-Length, or the body limit when
    /// it is chunked, counts from before it is read until it is parsed); a request beyond it is answered 503 with
    /// Retry-After before its body is read. <value>The default is 64 MiB.</value>
    /// </summary>
    public long MaxBodyBytesInFlight { get; init; } = DefaultMaxBodyBytesInFlight;

    /// <summary>
    /// Whether every request, <c>/metrics</c> and <c>/health</c> too, needs an API key, when the source has keys; without
    /// it only <c>POST /ingest</c> does. <value>The default is false.</value>
    /// </summary>
    public bool ProtectAdmin { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that is out of range.</summary>
    public void Validate()
    {
        if (Endpoints is null || HttpsEndpoints is null || AdminEndpoints is null)
        {
            throw new ArgumentException("An endpoint list is missing.",
                Endpoints is null ? nameof(Endpoints) : HttpsEndpoints is null ? nameof(HttpsEndpoints) : nameof(AdminEndpoints));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBodyBytes, 1, nameof(MaxBodyBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1, nameof(MaxMessageBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryAfter, TimeSpan.FromSeconds(1), nameof(RetryAfter));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBodyBytesInFlight, MaxBodyBytes, nameof(MaxBodyBytesInFlight));
    }
}
