using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Spill.Tests;

/// <summary>The buffer contract, kept by the spill log: a budget of 1 MiB on disk, in segments of 64 KiB.</summary>
public sealed class SpillBufferContractTests : BufferContractTests, IDisposable
{
    private readonly List<SpillHarness> _harnesses = [];

    protected override int MaxFill => 100_000;

    protected override ValueTask<IIngestBuffer> CreateAsync()
    {
        var harness = new SpillHarness();
        _harnesses.Add(harness);
        return ValueTask.FromResult<IIngestBuffer>(harness.Open(maxBytes: 1024 * 1024));
    }

    public void Dispose() => _harnesses.ForEach(h => h.Dispose());
}
