using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging;
using Spillway.Reloading;

namespace Spillway.Keys;

/// <summary>
/// The API keys in force, read from their file at start and again when it changes (watched) or on SIGHUP; a file that
/// does not load keeps the keys in force, is logged, shown by <see cref="Failure"/>, and is tried again at its next
/// change. It finds the key of a secret in constant time, holds each key's rate-limit bucket (kept across reloads
/// while the key's limit is the same), and counts what each key sent.
/// </summary>
public sealed class ApiKeyStore : IReloadable, IDisposable
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _reloading = new();
    private readonly ConcurrentDictionary<string, ApiKeyCounts> _counts = new(StringComparer.Ordinal);
    private volatile ApiKey[] _keys;
    private volatile ApiKeyReloadFailure? _failure;
    private FileWatch? _watch;
    private long _reloads;
    private bool _disposed;

    /// <summary>Loads the file, which must load: a start with a keys file that cannot be used fails.</summary>
    /// <exception cref="ApiKeyFileException">The file cannot be used; the message says why.</exception>
    public ApiKeyStore(ApiKeyOptions options, TimeProvider time, ILogger<ApiKeyStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        Options = options;
        _time = time;
        _logger = logger;
        _keys = WithBuckets(ApiKeyFile.Read(options.Path), []);
        Log.ApiKeysLoaded(_logger, "start", _keys.Length, options.Path);
    }

    /// <summary>The file and its watch.</summary>
    public ApiKeyOptions Options { get; }

    /// <summary>The keys in force.</summary>
    public IReadOnlyList<ApiKey> Keys => _keys;

    /// <summary>Why the last reload kept the keys in force, and since when; null once a reload succeeds.</summary>
    public ApiKeyReloadFailure? Failure => _failure;

    /// <summary>Reloads that put a changed set of keys in force.</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>What each key that has sent anything since the start sent, by name.</summary>
    public IReadOnlyDictionary<string, ApiKeyCounts> Counts => _counts;

    /// <summary>Starts watching the file's directory; a change there reloads it once it is still.</summary>
    public void Watch()
    {
        lock (_reloading)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _watch ??= new FileWatch([Options.Path], Options.ReloadDelay, _time, () => Reload("the file changed"),
                (exception, directory) => Log.ApiKeysWatchFailed(_logger, exception, directory));
        }
    }

    /// <summary>
    /// The key whose secret this is, or null. Every key's hash is compared, each in constant time, so the time taken
    /// says nothing of which key (if any) matched or how much of a hash did.
    /// </summary>
    public ApiKey? Find(ReadOnlySpan<char> secret)
    {
        var hash = ApiKeySecret.Hash(secret);
        ApiKey? found = null;
        foreach (var key in _keys)
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
    public bool Reload(string cause)
    {
        lock (_reloading)
        {
            if (_disposed)
            {
                return false;
            }

            IReadOnlyList<ApiKey> loaded;
            try
            {
                loaded = ApiKeyFile.Read(Options.Path);
            }
            catch (ApiKeyFileException ex)
            {
                _failure = new ApiKeyReloadFailure(ex.Message, _failure?.Since ?? _time.GetUtcNow());
                Log.ApiKeysReloadFailed(_logger, cause, ex.Message, _keys.Length);
                return false;
            }

            var recovered = _failure is not null;
            _failure = null;
            if (Same(loaded, _keys))
            {
                if (recovered)
                {
                    Log.ApiKeysLoaded(_logger, cause + ", the file loads again", loaded.Count, Options.Path);
                }

                return true;
            }

            _keys = WithBuckets(loaded, _keys);
            Interlocked.Increment(ref _reloads);
            Log.ApiKeysLoaded(_logger, cause, loaded.Count, Options.Path);
            return true;
        }
    }

    /// <summary>Stops watching.</summary>
    public void Dispose()
    {
        lock (_reloading)
        {
            _disposed = true;
        }

        _watch?.Dispose();
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

    private static bool Same(IReadOnlyList<ApiKey> a, ApiKey[] b) =>
        a.Count == b.Length && a.Zip(b).All(p => p.First.Name == p.Second.Name && p.First.Limit == p.Second.Limit
            && p.First.Hash.AsSpan().SequenceEqual(p.Second.Hash));
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

/// <summary>Why the keys file did not load at the last reload, and since when reloads have failed.</summary>
public sealed record ApiKeyReloadFailure(string Error, DateTimeOffset Since);
