using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Sinks;

namespace Spillway.Testing;

/// <summary>
/// A sink that keeps what it stored in memory, and fails the first <c>failures</c> writes (after which it stores
/// normally), or every write while <see cref="FailAlways"/> is set. A test double for the writer's tests; the real
/// sinks pass the contract tests in their own projects.
/// </summary>
internal sealed class RecordingSink(int failures = 0) : ISink
{
    private readonly Lock _gate = new();
    private readonly List<string> _stored = [];
    private readonly List<Reject> _rejects = [];
    private readonly List<int> _batchSizes = [];
    private int _failuresLeft = failures;

    public bool FailAlways { get; set; }

    /// <summary>When set, each write waits for it before storing: lets a test hold a write in flight.</summary>
    public TaskCompletionSource? Gate { get; set; }

    public int Attempts { get; private set; }

    private int _calls;

    /// <summary>Writes begun, those held at <see cref="Gate"/> included.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public TaskCompletionSource<int> FirstWrite { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<string> Stored
    {
        get
        {
            lock (_gate)
            {
                return [.. _stored];
            }
        }
    }

    public IReadOnlyList<Reject> Rejects
    {
        get
        {
            lock (_gate)
            {
                return [.. _rejects];
            }
        }
    }

    public IReadOnlyList<int> BatchSizes
    {
        get
        {
            lock (_gate)
            {
                return [.. _batchSizes];
            }
        }
    }

    public ValueTask OpenAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async ValueTask<int> WriteAsync(Batch batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        FirstWrite.TrySetResult(batch.Count);
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        lock (_gate)
        {
            Attempts++;
            if (FailAlways || _failuresLeft > 0)
            {
                _failuresLeft--;
                throw new InvalidOperationException($"injected failure {Attempts}");
            }

            _stored.AddRange(batch.Messages.Select(m => m.Text));
            _rejects.AddRange(batch.Rejects);
            _batchSizes.Add(batch.Count);
        }

        return 0;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
