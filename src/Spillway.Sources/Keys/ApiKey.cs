using System.Threading.RateLimiting;

namespace Spillway.Keys;

/// <summary>
/// A key a sender presents on HTTP: its name (which goes into the <c>client</c> column and the metrics' <c>key</c>
/// label), the SHA-256 of its secret (never the secret), and its rate limit, if it has one.
/// </summary>
public sealed class ApiKey
{
    internal ApiKey(string name, byte[] hash, ApiKeyLimit? limit, int line)
    {
        Name = name;
        Hash = hash;
        Limit = limit;
        Line = line;
    }

    /// <summary>The key's name, as the file gives it.</summary>
    public string Name { get; }

    /// <summary>The rate and burst its messages are held to; null for none.</summary>
    public ApiKeyLimit? Limit { get; }

    /// <summary>The SHA-256 of the secret.</summary>
    internal byte[] Hash { get; }

    /// <summary>The line of the file it is on, for messages.</summary>
    internal int Line { get; }

    /// <summary>The bucket of <see cref="Limit"/>; set by the store, which keeps a key's bucket across reloads.</summary>
    internal TokenBucketRateLimiter? Limiter { get; set; }

    /// <summary>
    /// Takes <paramref name="messages"/> from the key's bucket: true when its limit lets them in now (or it has none);
    /// false, with when to try again, when it does not, and then nothing is taken.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">More messages than the key's burst: they can never be let in at once.</exception>
    public bool TryTake(int messages, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (Limiter is not { } limiter)
        {
            return true;
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(messages, Limit!.Burst);
        limiter.TryReplenish(); // the bucket fills by the time elapsed since it was last looked at, to its size
        using var lease = limiter.AttemptAcquire(messages);
        if (lease.IsAcquired)
        {
            return true;
        }

        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Limit is { } limit ? $"{Name} ({limit})" : Name;
}

/// <summary>A key's rate limit: messages per second, and how many may come at once above that.</summary>
/// <param name="Rate">Messages per second, on average.</param>
/// <param name="Burst">The most messages taken at once when the key has been quiet (the bucket's size); at least <paramref name="Rate"/> is usual.</param>
public sealed record ApiKeyLimit(int Rate, int Burst)
{
    /// <inheritdoc />
    public override string ToString() => $"{Rate} msg/s, burst {Burst}";
}
