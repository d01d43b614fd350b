namespace Spillway.Demos;

/// <summary>The article's first program: one thread started with an argument, and joined.</summary>
public sealed class ThreadDemo : IDemo
{
    /// <inheritdoc />
    public string Name => "thread";

    /// <inheritdoc />
    public string Summary => "start one Thread with an argument, log before and after, and Join it";

    /// <inheritdoc />
    public Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: x = threading.Thread(target=thread_function, args=(1,)); x.start(); x.join()");
        context.Explain(".NET:    var x = new Thread(ThreadFunction) { Name = \"Thread 1\" }; x.Start(1); x.Join();");
        var finished = false;
        context.Info("Main    : before creating thread");
        var thread = new Thread(state =>
        {
            var name = (int)state!;
            context.Info($"Thread {name}: starting");
            context.Sleep(context.Step * 2);
            context.Info($"Thread {name}: finishing");
            finished = true;
        })
        {
            Name = "Thread 1",
            IsBackground = true,
        };
        context.Info("Main    : before running thread");
        thread.Start(1);
        context.Info("Main    : wait for the thread to finish");
        var joined = thread.Join(context.HangTimeout + context.Step * 2);
        context.Info("Main    : all done");
        context.Explain("Join blocks the caller until the thread ends; without it, Main could finish first. A thread made with");
        context.Explain("IsBackground = true does not keep the process alive; a foreground one (the default) would, like Python's.");
        return Task.FromResult(new DemoOutcome(joined && finished,
            joined && finished ? "the thread ran to its end before Join returned" : "the thread did not finish in time"));
    }
}
