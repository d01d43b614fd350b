using System.Diagnostics.Metrics;

namespace Spillway.Pipeline;

/// <summary>
/// What a buffer says about itself beyond the <see cref="IIngestBuffer"/> contract: whether it can still keep what it
/// takes, why it refuses writes for now, its own instruments, and a line for the end of a run. The memory buffer has
/// nothing to say (<see cref="None"/>); the spill log has.
/// </summary>
public interface IBufferDiagnostics
{
    /// <summary>The diagnostics of a buffer that cannot fail and never refuses but for its bounds.</summary>
    static IBufferDiagnostics None { get; } = new Nothing();

    /// <summary>Completes when the buffer has failed for good (it then refuses all writes); never while it works.</summary>
    Task Faulted { get; }

    /// <summary>Why the buffer failed, or null while it works.</summary>
    string? Failure { get; }

    /// <summary>Why the buffer refuses writes for now (its disk full, the process out of descriptors), or null while it takes them.</summary>
    string? Refusal { get; }

    /// <summary>One line for the end of a run, or null.</summary>
    string? Summary();

    /// <summary>Adds the buffer's own instruments to <paramref name="meter"/>.</summary>
    void AddInstruments(Meter meter);

    private sealed class Nothing : IBufferDiagnostics
    {
        public Task Faulted { get; } = new TaskCompletionSource().Task;

        public string? Failure => null;

        public string? Refusal => null;

        public string? Summary() => null;

        public void AddInstruments(Meter meter)
        {
        }
    }
}
