namespace Spillway.Demos;

/// <summary>
/// The article's race condition: two workers update a shared FakeDatabase with an unprotected read-modify-write,
/// and one update is lost.
/// </summary>
public sealed class RaceDemo : IDemo
{
    private const int Workers = 2;

    /// <inheritdoc />
    public string Name => "race";

    /// <inheritdoc />
    public string Summary => "two workers do read-modify-write on a shared value without a lock: an update is lost, every run";

    /// <inheritdoc />
    public async Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: local_copy = self.value; local_copy += 1; time.sleep(0.1); self.value = local_copy");
        context.Explain("The sleep lets the other thread run between the read and the write. A sleep only makes that switch likely;");
        context.Explain("here a Barrier makes it certain (each worker waits, between its read and its write, until the other has");
        context.Explain("read), so the update is lost on every run, as in the article.");

        var database = new FakeDatabase(context, new Barrier(Workers));
        context.Info($"Testing update. Starting value is {database.Value}.");

        // The article submits to a ThreadPoolExecutor(max_workers=2); LongRunning gives each worker a thread of its own,
        // so both run at once even when the shared pool has a single thread free.
        var workers = Enumerable.Range(0, Workers)
            .Select(index => Task.Factory.StartNew(() => database.Update(index), cancellationToken, TaskCreationOptions.LongRunning,
                TaskScheduler.Default))
            .ToArray();
        await Task.WhenAll(workers);

        context.Info($"Testing update. Ending value is {database.Value}.");
        var lost = Workers - database.Value;
        context.Explain($"{Workers} updates ran and the value is {database.Value}: {lost} lost, because each worker wrote back a copy");
        context.Explain("it had read before the other's write. `spillway demo lock` puts a lock around the three steps.");
        return new DemoOutcome(database.Value < Workers, $"{Workers} updates, final value {database.Value}: {lost} update(s) lost");
    }

    /// <summary>The article's FakeDatabase, without a lock.</summary>
    private sealed class FakeDatabase(DemoContext context, Barrier bothHaveRead)
    {
        public int Value { get; private set; }

        public void Update(int name)
        {
            context.Info($"Thread {name}: starting update");
            var localCopy = Value;
            localCopy += 1;
            context.Debug($"Thread {name}: read {localCopy - 1}, about to write {localCopy}");
            if (!bothHaveRead.SignalAndWait(context.HangTimeout))
            {
                throw new TimeoutException("the other worker never read the value");
            }

            Value = localCopy;
            context.Info($"Thread {name}: finishing update");
        }
    }
}
