namespace Spillway.Keys;

/// <summary>Where the API keys are, and how their file is watched.</summary>
public sealed record ApiKeyOptions
{
    /// <summary>The keys file (see <see cref="ApiKeyFile"/>).</summary>
    public required string Path { get; init; }

    /// <summary>
    /// How long the file must be still after a change before it is read again. <value>The default is 500 ms.</value>
    /// </summary>
    public TimeSpan ReloadDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Path, nameof(Path));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReloadDelay, TimeSpan.Zero, nameof(ReloadDelay));
    }
}
