using System.Text.RegularExpressions;
using Spillway.Testing;

namespace Spillway.Demos.Tests;

public sealed partial class DemoTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(DemoOutcome Outcome, string Output)> RunAsync(
        IDemo demo, bool verbose = false, int? capacity = null, TimeSpan? stopAfter = null, int seed = 1)
    {
        using var output = new StringWriter();
        var context = new DemoContext(output, TimeProvider.System, verbose)
        {
            Step = TimeSpan.FromMilliseconds(1),
            Capacity = capacity ?? 10,
            StopAfter = stopAfter ?? TimeSpan.FromMilliseconds(5),
            Random = new Random(seed),
        };
        var outcome = await demo.RunAsync(context, Ct).WaitAsync(TestTimeouts.Wait, Ct);
        return (outcome, output.ToString());
    }

    [Fact]
    public void Every_demo_has_a_name_of_its_own_and_a_summary()
    {
        Assert.Equal(
            ["thread", "pool", "pool-exception", "race", "lock", "deadlock", "rlock", "slot-pipeline", "queue-pipeline"],
            DemoCatalog.All.Select(d => d.Name));
        Assert.All(DemoCatalog.All, d => Assert.False(string.IsNullOrWhiteSpace(d.Summary)));
    }

    [Fact]
    public async Task Thread_logs_before_and_after_and_the_thread_finishes_before_join_returns()
    {
        var (outcome, output) = await RunAsync(new ThreadDemo());
        Assert.True(outcome.AsExpected, outcome.Conclusion);
        var lines = output.Split('\n');
        int Index(string text) => Array.FindIndex(lines, l => l.Contains(text, StringComparison.Ordinal));
        Assert.True(Index("before creating thread") < Index("Thread 1: starting"));
        Assert.True(Index("Thread 1: finishing") < Index("all done"));
        Assert.Contains("[Thread 1 #", output, StringComparison.Ordinal); // the thread's name, as the article logs it
    }

    [Fact]
    public async Task Pool_runs_every_item_and_never_more_than_three_at_once()
    {
        for (var run = 0; run < TestTimeouts.Iterations(10); run++)
        {
            var (outcome, output) = await RunAsync(new PoolDemo());
            Assert.True(outcome.AsExpected, outcome.Conclusion);
            var running = RunningRegex().Matches(output).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.All(running, r => Assert.InRange(r, 1, 3));
            Assert.Equal(6, output.Split('\n').Count(l => l.Contains(": finishing", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task Pool_exception_is_hidden_in_forgotten_tasks_and_surfaces_when_awaited()
    {
        var (outcome, output) = await RunAsync(new PoolExceptionDemo());
        Assert.True(outcome.AsExpected, outcome.Conclusion);
        Assert.Contains("Faulted, Faulted, Faulted", output, StringComparison.Ordinal);
        Assert.Contains("caught TargetParameterCountException", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Race_loses_an_update_on_every_run()
    {
        for (var run = 0; run < TestTimeouts.Iterations(50); run++)
        {
            var (outcome, output) = await RunAsync(new RaceDemo());
            Assert.True(outcome.AsExpected, outcome.Conclusion);
            Assert.Contains("Ending value is 1.", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Lock_keeps_every_update_on_every_run()
    {
        for (var run = 0; run < TestTimeouts.Iterations(20); run++)
        {
            var (outcome, output) = await RunAsync(new LockDemo());
            Assert.True(outcome.AsExpected, outcome.Conclusion);
            Assert.Contains("Ending value is 2.", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Debug_lines_appear_only_when_verbose()
    {
        var (_, quiet) = await RunAsync(new LockDemo());
        var (_, verbose) = await RunAsync(new LockDemo(), verbose: true);
        Assert.DoesNotContain("has lock", quiet, StringComparison.Ordinal);
        Assert.Contains("Thread 0 has lock", verbose, StringComparison.Ordinal);
        Assert.Contains("Thread 1 about to release lock", verbose, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deadlock_is_detected_within_its_timeout_instead_of_hanging()
    {
        var started = TimeProvider.System.GetTimestamp();
        var (outcome, output) = await RunAsync(new DeadlockDemo());
        Assert.True(outcome.AsExpected, outcome.Conclusion);
        Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(5));
        Assert.Contains("second acquire gave up", output, StringComparison.Ordinal);
        Assert.Contains("Monitor is reentrant", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rlock_is_released_as_many_times_as_it_was_acquired()
    {
        var (outcome, output) = await RunAsync(new RLockDemo());
        Assert.True(outcome.AsExpected, outcome.Conclusion);
        Assert.Contains("acquired 3 times, released 3 times; held now: False", output, StringComparison.Ordinal);
        Assert.Contains("another thread trying to enter now: kept out", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Slot_pipeline_delivers_the_ten_messages_in_order_and_shows_the_unsafe_get()
    {
        for (var run = 0; run < TestTimeouts.Iterations(30); run++)
        {
            var (outcome, output) = await RunAsync(new SlotPipelineDemo(), seed: run);
            Assert.True(outcome.AsExpected, outcome.Conclusion);
            var match = SentReceivedRegex().Match(output);
            Assert.True(match.Success, output);
            Assert.Equal(10, match.Groups[1].Value.Split(' ').Length);
            Assert.Equal(match.Groups[1].Value, match.Groups[2].Value);
        }
    }

    [Fact]
    public async Task Queue_pipeline_consumes_everything_produced_whatever_the_capacity_and_stop_time()
    {
        var random = new Random(11);
        for (var run = 0; run < TestTimeouts.Iterations(60); run++)
        {
            var capacity = random.Next(1, 21);
            var stopAfter = TimeSpan.FromMilliseconds(random.Next(0, 15));
            var (outcome, output) = await RunAsync(new QueuePipelineDemo(), capacity: capacity, stopAfter: stopAfter, seed: run);
            Assert.True(outcome.AsExpected, $"capacity {capacity}, stop after {stopAfter}: {outcome.Conclusion}");
            var match = ProducedConsumedRegex().Match(output);
            Assert.Equal(match.Groups[1].Value, match.Groups[2].Value);
            Assert.Contains("spillway serve", output, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"starting \((\d+) running\)")]
    private static partial Regex RunningRegex();

    [GeneratedRegex(@"sent ([\d ]+); received ([\d ]+)")]
    private static partial Regex SentReceivedRegex();

    [GeneratedRegex(@"produced (\d+), consumed (\d+)")]
    private static partial Regex ProducedConsumedRegex();
}
