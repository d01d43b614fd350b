namespace Spillway.Demos;

/// <summary>
/// The article's deadlock: a lock that is not reentrant, acquired twice by the same thread. The demo waits with a
/// timeout, so it reports the deadlock instead of hanging in it.
/// </summary>
public sealed class DeadlockDemo : IDemo
{
    /// <inheritdoc />
    public string Name => "deadlock";

    /// <inheritdoc />
    public string Summary => "a non-reentrant lock taken twice by one thread: detected with a timeout, and which .NET locks are reentrant";

    /// <inheritdoc />
    public Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: l = threading.Lock(); l.acquire(); l.acquire()  # hangs forever");
        context.Explain(".NET:    the article's Lock is SemaphoreSlim(1, 1): not reentrant, owned by no thread, awaitable.");

        var timeout = context.Step * 10;
        using var semaphore = new SemaphoreSlim(1, 1);
        context.Info("before first acquire");
        semaphore.Wait(cancellationToken);
        context.Info("before second acquire");
        var started = context.Time.GetTimestamp();
        var second = semaphore.Wait(timeout, cancellationToken);
        var waited = context.Time.GetElapsedTime(started);
        if (second)
        {
            context.Info("acquired twice: this semaphore is reentrant after all");
        }
        else
        {
            context.Info($"second acquire gave up after {waited.TotalMilliseconds:F0} ms: the thread waits for a lock that only it can release");
        }

        context.Explain("Without the timeout this thread would wait forever. Reentrant locks let the owner in again:");
        var monitor = new object();
        lock (monitor)
        {
            lock (monitor)
            {
                context.Info("lock (obj) twice on one thread: fine (Monitor is reentrant)");
            }
        }

        var threadingLock = new Lock();
        using (threadingLock.EnterScope())
        {
            using (threadingLock.EnterScope())
            {
                context.Info("System.Threading.Lock entered twice on one thread: fine (reentrant)");
            }
        }

        context.Explain("Python Lock  -> SemaphoreSlim(1, 1)                       not reentrant; any thread may release it");
        context.Explain("Python RLock -> lock (obj) / Monitor, System.Threading.Lock  reentrant; only the owner may release it");
        context.Explain("See `spillway demo rlock` for the release count, and `spillway demo slot-pipeline` for why a lock that");
        context.Explain("one thread takes and another releases has to be a SemaphoreSlim in .NET.");
        return Task.FromResult(new DemoOutcome(!second,
            second ? "the second acquire succeeded" : $"the second acquire would have deadlocked; detected after {timeout.TotalMilliseconds:F0} ms"));
    }
}
