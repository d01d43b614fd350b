namespace Spillway.Demos;

/// <summary>The article's RLock: a reentrant lock taken again by its owner, released as many times as taken.</summary>
public sealed class RLockDemo : IDemo
{
    private const int Depth = 3;

    /// <inheritdoc />
    public string Name => "rlock";

    /// <inheritdoc />
    public string Summary => "re-entry on a reentrant lock succeeds, and it is released as many times as it was acquired";

    /// <inheritdoc />
    public Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: threading.RLock lets a thread acquire it again; it must release it as many times.");
        context.Explain(".NET:    System.Threading.Lock (and lock/Monitor) are reentrant the same way.");

        var gate = new Lock();
        var acquires = 0;
        var releases = 0;
        bool? otherThreadGotIn = null;

        void Enter(int depth)
        {
            gate.Enter();
            acquires++;
            context.Info($"acquired at depth {depth}");
            if (depth < Depth)
            {
                Enter(depth + 1);
            }
            else
            {
                // Re-entry does not weaken the lock: another thread still cannot take it.
                var other = new Thread(() => otherThreadGotIn = gate.TryEnter()) { Name = "other" };
                other.Start();
                other.Join(context.HangTimeout);
                context.Info($"another thread trying to enter now: {(otherThreadGotIn == true ? "got in" : "kept out")}");
            }

            gate.Exit();
            releases++;
            context.Info($"released at depth {depth}");
        }

        Enter(1);
        var free = !gate.IsHeldByCurrentThread;
        context.Info($"acquired {acquires} times, released {releases} times; held now: {!free}");
        context.Explain("Each Enter needs its Exit. `lock` and `using (gate.EnterScope())` pair them for you, even on exceptions.");
        return Task.FromResult(new DemoOutcome(acquires == Depth && releases == acquires && free && otherThreadGotIn == false,
            $"{acquires} acquires, {releases} releases, free at the end: {free}"));
    }
}
