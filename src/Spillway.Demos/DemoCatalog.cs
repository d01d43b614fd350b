namespace Spillway.Demos;

/// <summary>Every scenario, in the article's order.</summary>
public static class DemoCatalog
{
    /// <summary>The scenarios.</summary>
    public static IReadOnlyList<IDemo> All { get; } =
    [
        new ThreadDemo(), new PoolDemo(), new PoolExceptionDemo(), new RaceDemo(), new LockDemo(), new DeadlockDemo(), new RLockDemo(),
        new SlotPipelineDemo(), new QueuePipelineDemo(),
    ];
}
