using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Spillway.Cli.Hosting;
using Spillway.Pipeline;

namespace Spillway.Cli.Tests;

public sealed class BufferHealthCheckTests
{
    [Fact]
    public async Task A_buffer_that_refuses_writes_is_unhealthy_and_says_why_and_one_that_takes_them_is_healthy()
    {
        var buffer = new Diagnostics();
        var check = new BufferHealthCheck(buffer);
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);

        buffer.Refusal = "the disk of the spill log is full: No space left on device";
        var refusing = await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken);

        Assert.Equal(HealthStatus.Unhealthy, refusing.Status);
        Assert.Contains("No space left on device", refusing.Description, StringComparison.Ordinal);

        buffer.Refusal = null;
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext(), TestContext.Current.CancellationToken)).Status);
    }

    [Fact]
    public void The_memory_buffer_never_fails_nor_refuses()
    {
        Assert.Null(IBufferDiagnostics.None.Refusal);
        Assert.Null(IBufferDiagnostics.None.Failure);
        Assert.False(IBufferDiagnostics.None.Faulted.IsCompleted);
        Assert.Null(IBufferDiagnostics.None.Summary());
    }

    private sealed class Diagnostics : IBufferDiagnostics
    {
        public Task Faulted { get; } = new TaskCompletionSource().Task;

        public string? Failure => null;

        public string? Refusal { get; set; }

        public string? Summary() => null;

        public void AddInstruments(Meter meter)
        {
        }
    }
}
