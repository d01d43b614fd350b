namespace Spillway.Pipeline;

/// <summary>The bounds of the <see cref="IngestBuffer"/>: everything accepted and not yet stored counts against them.</summary>
public sealed record IngestBufferOptions
{
    /// <summary>The default of <see cref="MaxMessages"/>.</summary>
    public const int DefaultMaxMessages = 100_000;

    /// <summary>The default of <see cref="MaxBytes"/>: 64 MiB.</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>Most items held at once. <value>The default is 100,000.</value></summary>
    public int MaxMessages { get; init; } = DefaultMaxMessages;

    /// <summary>Most frame bytes held at once. <value>The default is 64 MiB.</value></summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bound that is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessages, 1, nameof(MaxMessages));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytes, 1, nameof(MaxBytes));
    }
}
