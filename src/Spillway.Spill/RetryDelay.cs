namespace Spillway.Spill;

/// <summary>
/// The wait before the log tries again what failed for a passing reason (no space, no descriptors): 50 ms at first,
/// doubling with each failure up to 5 s, back to 50 ms once it succeeds. Not thread-safe: each is one task's.
/// </summary>
internal sealed class RetryDelay
{
    public static readonly TimeSpan First = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan Last = TimeSpan.FromSeconds(5);

    public TimeSpan Current { get; private set; } = First;

    /// <summary>Another failure: the next wait is twice as long, within <see cref="Last"/>.</summary>
    public void Lengthen() => Current = Current * 2 < Last ? Current * 2 : Last;

    public void Reset() => Current = First;
}
