namespace Spillway.Pipeline;

/// <summary>How a <see cref="BatchWriter"/> cuts batches and retries failed writes.</summary>
public sealed record BatchWriterOptions
{
    /// <summary>The default of <see cref="BatchSize"/>.</summary>
    public const int DefaultBatchSize = 10_000;

    /// <summary>The default of <see cref="Linger"/>.</summary>
    public static readonly TimeSpan DefaultLinger = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Most items in one batch (one transaction). <value>The default is 10,000: a SQLite transaction of that size
    /// takes about 20 ms, long enough to amortise the commit and short enough to keep latency low.</value>
    /// </summary>
    public int BatchSize { get; init; } = DefaultBatchSize;

    /// <summary>
    /// How long a batch waits for more items after its first one before it is written anyway.
    /// <value>The default is 100 ms.</value>
    /// </summary>
    public TimeSpan Linger { get; init; } = DefaultLinger;

    /// <summary>The wait before the first retry of a failed batch. <value>The default is 100 ms.</value></summary>
    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between two retries. <value>The default is 30 s.</value></summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first value that is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(Linger, TimeSpan.Zero, nameof(Linger));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryInitialDelay, TimeSpan.Zero, nameof(RetryInitialDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMaxDelay, RetryInitialDelay, nameof(RetryMaxDelay));
    }
}
