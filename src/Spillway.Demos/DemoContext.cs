using System.Globalization;

namespace Spillway.Demos;

/// <summary>
/// What a demo runs with: where it writes its log, the clock, and the knobs the scenarios share. Log lines read
/// like the article's: the time, the thread, what happens. Debug lines appear only with <see cref="Verbose"/>, as
/// the article's do after <c>setLevel(logging.DEBUG)</c>.
/// </summary>
public sealed class DemoContext
{
    private readonly TextWriter _output;

    /// <summary>Creates a context.</summary>
    /// <param name="output">Where the log goes; writes from several threads are serialised.</param>
    /// <param name="time">The clock for timestamps and the scenarios' sleeps.</param>
    /// <param name="verbose">Whether debug lines are written.</param>
    public DemoContext(TextWriter output, TimeProvider time, bool verbose)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(time);
        _output = TextWriter.Synchronized(output);
        Time = time;
        Verbose = verbose;
    }

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>Whether debug lines are written.</summary>
    public bool Verbose { get; }

    /// <summary>The article's <c>time.sleep</c> in the scenarios. <value>The default is 100 ms.</value></summary>
    public TimeSpan Step { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The bounded queue's capacity in <c>queue-pipeline</c>. <value>The default is 10.</value></summary>
    public int Capacity { get; init; } = 10;

    /// <summary>How long <c>queue-pipeline</c> runs before the stop event is set. <value>The default is 100 ms.</value></summary>
    public TimeSpan StopAfter { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The source of the scenarios' random messages.</summary>
    public Random Random { get; init; } = new();

    /// <summary>A log line at the article's INFO level.</summary>
    public void Info(string message) => Write(message);

    /// <summary>A log line at the article's DEBUG level: written only when verbose.</summary>
    public void Debug(string message)
    {
        if (Verbose)
        {
            Write(message);
        }
    }

    /// <summary>An explanation, set apart from the log: what the scenario maps to in .NET, and why.</summary>
    public void Explain(string text) => _output.WriteLine($"  # {text}");

    /// <summary>Blocks the calling thread for <paramref name="duration"/> on the demo's clock: the article's <c>time.sleep</c>.</summary>
    public void Sleep(TimeSpan duration)
    {
        using var elapsed = new ManualResetEventSlim();
        using var timer = Time.CreateTimer(static state => ((ManualResetEventSlim)state!).Set(), elapsed, duration, Timeout.InfiniteTimeSpan);
        elapsed.Wait();
    }

    /// <summary>Waits for <paramref name="duration"/> on the demo's clock without blocking a thread.</summary>
    public Task DelayAsync(TimeSpan duration, CancellationToken cancellationToken) => Task.Delay(duration, Time, cancellationToken);

    /// <summary>How long a demo waits for something that should happen at once before it calls it a hang.</summary>
    public TimeSpan HangTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The name a log line gives the current thread.</summary>
    public static string ThreadName()
    {
        var thread = Thread.CurrentThread;
        return thread.Name is { Length: > 0 } name ? $"{name} #{thread.ManagedThreadId}" : $"thread #{thread.ManagedThreadId}";
    }

    private void Write(string message) =>
        _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Time.GetUtcNow():HH:mm:ss.fff} [{ThreadName()}] {message}"));
}
