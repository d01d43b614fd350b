using Spillway.Diagnostics;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Core.Tests;

/// <summary>The buffer contract, kept by the memory buffer: 1,000 messages.</summary>
public sealed class IngestBufferContractTests : BufferContractTests
{
    protected override int MaxFill => 10_000;

    protected override ValueTask<IIngestBuffer> CreateAsync() =>
        ValueTask.FromResult<IIngestBuffer>(new IngestBuffer(new IngestBufferOptions { MaxMessages = 1000 }, new IngestStats()));
}
