namespace Spillway.Demos;

/// <summary>The article's ThreadPoolExecutor: a bounded group of workers mapped over inputs, joined at the end.</summary>
public sealed class PoolDemo : IDemo
{
    private const int Workers = 3;
    private const int Items = 6;

    /// <inheritdoc />
    public string Name => "pool";

    /// <inheritdoc />
    public string Summary => "a bounded pool of workers mapped over inputs: ThreadPoolExecutor(max_workers=3).map as Parallel.ForEachAsync";

    /// <inheritdoc />
    public async Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: with ThreadPoolExecutor(max_workers=3) as executor: executor.map(thread_function, range(3))");
        context.Explain(".NET:    await Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = 3 }, body)");
        context.Explain($"Six items on at most {Workers} workers, so the bound shows: the .NET thread pool is shared by the whole process and");
        context.Explain("sized by the runtime, so the bound belongs to the operation, not to a pool of its own.");

        var running = 0;
        var peak = 0;
        var done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Workers, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, Items), options, async (name, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref peak, now);
            context.Info($"Thread {name}: starting ({now} running)");
            await context.DelayAsync(context.Step * 2, ct);
            context.Info($"Thread {name}: finishing");
            Interlocked.Decrement(ref running);
            Interlocked.Increment(ref done);
        });

        context.Info($"Main    : all done; {done} items ran, at most {peak} at once");
        context.Explain("ForEachAsync returns when every body has finished (the with-block's join) and rethrows their exceptions.");
        var asExpected = done == Items && peak is >= 1 and <= Workers;
        return new DemoOutcome(asExpected, $"{done} items ran on at most {peak} workers at once (bound: {Workers})");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
