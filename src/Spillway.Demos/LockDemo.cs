namespace Spillway.Demos;

/// <summary>The race fixed: a lock around the read-modify-write, so every update lands.</summary>
public sealed class LockDemo : IDemo
{
    private const int Workers = 2;

    /// <inheritdoc />
    public string Name => "lock";

    /// <inheritdoc />
    public string Summary => "the same update under a lock: the final value equals the number of updates";

    /// <inheritdoc />
    public async Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: with self._lock: local_copy = self.value; local_copy += 1; time.sleep(0.1); self.value = local_copy");
        context.Explain(".NET:    lock (_lock) { ... } with a System.Threading.Lock (.NET 9+): the lock statement releases it however");
        context.Explain("         the block ends, as Python's with-block does. Run with --verbose for the article's debug lines.");

        var database = new FakeDatabase(context);
        context.Info($"Testing locked update. Starting value is {database.Value}.");
        var workers = Enumerable.Range(0, Workers)
            .Select(index => Task.Factory.StartNew(() => database.LockedUpdate(index), cancellationToken, TaskCreationOptions.LongRunning,
                TaskScheduler.Default))
            .ToArray();
        await Task.WhenAll(workers);
        context.Info($"Testing locked update. Ending value is {database.Value}.");
        context.Explain("Only one worker at a time is between the read and the write, so neither overwrites the other's update.");
        return new DemoOutcome(database.Value == Workers, $"{Workers} updates, final value {database.Value}");
    }

    /// <summary>The article's FakeDatabase with its lock.</summary>
    private sealed class FakeDatabase(DemoContext context)
    {
        private readonly Lock _lock = new();

        public int Value { get; private set; }

        public void LockedUpdate(int name)
        {
            context.Info($"Thread {name}: starting update");
            context.Debug($"Thread {name} about to lock");
            lock (_lock)
            {
                context.Debug($"Thread {name} has lock");
                var localCopy = Value;
                localCopy += 1;
                context.Sleep(context.Step);
                Value = localCopy;
                context.Debug($"Thread {name} about to release lock");
            }

            context.Debug($"Thread {name} after release");
            context.Info($"Thread {name}: finishing update");
        }
    }
}
