using System.Reflection;

namespace Spillway.Demos;

/// <summary>
/// The article's pitfall: a function called with the wrong arguments inside the pool throws, and nobody sees it.
/// In .NET the exception is stored in a task that nobody awaits.
/// </summary>
public sealed class PoolExceptionDemo : IDemo
{
    /// <inheritdoc />
    public string Name => "pool-exception";

    /// <inheritdoc />
    public string Summary => "an exception hidden in an unobserved Task, and how to surface it";

    /// <inheritdoc />
    public async Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: executor.map(function_that_takes_no_arguments, range(3)) raises inside the pool, and the program");
        context.Explain("         ends with no output: the exception is held by a future that nobody looks at.");
        context.Explain(".NET:    a Task started and never awaited holds its exception the same way.");

        var method = typeof(PoolExceptionDemo).GetMethod(nameof(TakesNoArguments), BindingFlags.NonPublic | BindingFlags.Static)!;

        context.Info("Main    : starting three tasks that call TakesNoArguments(i): fire and forget");
        var forgotten = Enumerable.Range(0, 3).Select(i => Task.Run(() => method.Invoke(null, [i]), cancellationToken)).ToArray();

        // Wait for them without observing their outcome, as code that forgets them would never do at all.
        await ((Task)Task.WhenAll(forgotten)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        context.Info("Main    : all done, and not a word about any error");
        context.Info($"Main    : yet the tasks are {string.Join(", ", forgotten.Select(t => t.Status))}");
        context.Explain("The exceptions sit in task.Exception. TaskScheduler.UnobservedTaskException reports them only when the");
        context.Explain("garbage collector finalises the tasks, if ever, and by default nothing else does.");

        context.Info("Main    : the same three, awaited this time");
        Exception? surfaced = null;
        try
        {
            await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Task.Run(() => method.Invoke(null, [i]), cancellationToken)));
        }
        catch (TargetParameterCountException ex)
        {
            surfaced = ex;
            context.Info($"Main    : caught {ex.GetType().Name}: {ex.Message}");
        }

        context.Explain("Surface it: await every task you start (Task.WhenAll rethrows), or use Parallel.ForEachAsync, which");
        context.Explain("rethrows too. Spillway's serve watches its writer task and ends with exit code 2 if it faults.");
        var hidden = forgotten.All(t => t.IsFaulted && t.Exception!.InnerException is TargetParameterCountException);
        return new DemoOutcome(hidden && surfaced is not null,
            hidden && surfaced is not null
                ? "forgotten tasks kept their exception to themselves; awaited ones threw it"
                : "the exception did not behave as described");
    }

    private static void TakesNoArguments()
    {
    }
}
