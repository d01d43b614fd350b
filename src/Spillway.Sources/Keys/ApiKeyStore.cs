using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Spillway.Reloading;

namespace Spillway.Keys;

/// <summary>
/// The API keys in force, read from their file at start and again when it changes (watched) or on SIGHUP; a file that
/// does not load keeps the keys in force, is logged, shown by <c>Failure</c>, and is tried again at its next
/// change (see <see cref="ReloadingStore{T, TLoadException}"/>). It finds the key of a secret in constant time, holds each key's rate-limit bucket (kept across reloads
/// while the key's limit is the same), and counts what each key sent.
/// </summary>
public sealed class ApiKeyStore : ReloadingStore<ApiKey[], ApiKeyFileException>
{
    private static readonly ReloadWords Words = new("the file changed", "the file loads again");

    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ApiKeyCounts> _counts = new(StringComparer.Ordinal);

    /// <summary>Loads the file, which must load: a start with a keys file that cannot be used fails.</summary>
    /// <exception cref="ApiKeyFileException">The file cannot be used; the message says why.</exception>
    public ApiKeyStore(ApiKeyOptions options, TimeProvider time, ILogger<ApiKeyStore> logger)
        : base(Initial(options), [options.Path], options.ReloadDelay, time, Words)
    {
        ArgumentNullException.ThrowIfNull(logger);
        Options = options;
        _logger = logger;
        Log.ApiKeysLoaded(_logger, "start", InForce.Length, options.Path);
    }

    /// <summary>The file and its watch.</summary>
    public ApiKeyOptions Options { get; }

    /// <summary>The keys in force.</summary>
    public IReadOnlyList<ApiKey> Keys => InForce;

    /// <summary>What each key that has sent anything since the start sent, by name.</summary>
    public IReadOnlyDictionary<string, ApiKeyCounts> Counts => _counts;

    /// <summary>
    /// The key whose secret this is, or null. Every key's hash is compared, each in constant time, so the time taken
    /// says nothing of which key (if any) matched or how much of a hash did.
    /// </summary>
    public ApiKey? Find(ReadOnlySpan<char> secret)
    {
        var hash = ApiKeySecret.Hash(secret);
        ApiKey? found = null;
        foreach (var key in InForce)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, key.Hash))
            {
                found = key;
            }
        }

        return found;
    }

    /// <summary>Counts a request of the key's that was taken, with its messages.</summary>
    public void CountTaken(ApiKey key, int messages)
    {
        var counts = CountsOf(key);
        Interlocked.Increment(ref counts.TakenRequests);
        Interlocked.Add(ref counts.TakenMessages, messages);
    }

    /// <summary>Counts a request of the key's that its rate limit refused.</summary>
    public void CountLimited(ApiKey key) => Interlocked.Increment(ref CountsOf(key).LimitedRequests);

    /// <inheritdoc />
    protected override ApiKey[] Load() => [.. ApiKeyFile.Read(Options.Path)];

    /// <inheritdoc />
    protected override bool Same(ApiKey[] loaded, ApiKey[] current) =>
        loaded.Length == current.Length && loaded.Zip(current).All(p => p.First.Name == p.Second.Name && p.First.Limit == p.Second.Limit
            && p.First.Hash.AsSpan().SequenceEqual(p.Second.Hash));

    /// <inheritdoc />
    protected override ApiKey[] Adopt(ApiKey[] loaded, ApiKey[] current) => WithBuckets(loaded, current);

    /// <inheritdoc />
    protected override void Loaded(string cause, ApiKey[] value) => Log.ApiKeysLoaded(_logger, cause, value.Length, Options.Path);

    /// <inheritdoc />
    protected override void ReloadFailed(string cause, string error, ApiKey[] current) => Log.ApiKeysReloadFailed(_logger, cause, error, current.Length);

    /// <inheritdoc />
    protected override void WatchFailed(Exception exception, string directory) => Log.ApiKeysWatchFailed(_logger, exception, directory);

    private static ApiKey[] Initial(ApiKeyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return WithBuckets(ApiKeyFile.Read(options.Path), []);
    }

    private ApiKeyCounts CountsOf(ApiKey key) => _counts.GetOrAdd(key.Name, static _ => new ApiKeyCounts());

    /// <summary>
    /// Gives each limited key its bucket: the one it had before when its name and limit are the same (a reload neither
    /// refills nor empties it), a full new one otherwise. The buckets replenish by elapsed time when looked at, not by a
    /// timer, so one dropped at a reload holds nothing and is not disposed (a request may still be taking from it).
    /// </summary>
    private static ApiKey[] WithBuckets(IReadOnlyList<ApiKey> keys, IReadOnlyList<ApiKey> before)
    {
        var buckets = before.Where(k => k.Limiter is not null).ToDictionary(k => (k.Name, k.Limit), k => k.Limiter);
        foreach (var key in keys)
        {
            if (key.Limit is { } limit)
            {
                key.Limiter = buckets.GetValueOrDefault((key.Name, limit)) ?? new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
                {
                    TokenLimit = limit.Burst,
                    TokensPerPeriod = limit.Rate,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = false,
                });
            }
        }

        return [.. keys];
    }
}

/// <summary>What one key sent since the start.</summary>
public sealed class ApiKeyCounts
{
    internal long TakenRequests;
    internal long TakenMessages;
    internal long LimitedRequests;

    /// <summary>Requests taken.</summary>
    public long Requests => Interlocked.Read(ref TakenRequests);

    /// <summary>Messages taken.</summary>
    public long Messages => Interlocked.Read(ref TakenMessages);

    /// <summary>Requests its rate limit answered 429.</summary>
    public long Limited => Interlocked.Read(ref LimitedRequests);
}
