using Spillway.Pipeline;
using Spillway.Sinks;

namespace Spillway.Cli.Hosting;

/// <summary>The writers that drain the buffer, each with a sink of its own (SQLite: one; PostgreSQL: <c>--writers</c>).</summary>
internal sealed class WriterPool(IReadOnlyList<(ISink Sink, BatchWriter Writer)> writers) : IAsyncDisposable
{
    public IReadOnlyList<BatchWriter> Writers { get; } = [.. writers.Select(w => w.Writer)];

    /// <summary>The sinks, one per writer.</summary>
    public IReadOnlyList<ISink> Sinks { get; } = [.. writers.Select(w => w.Sink)];

    /// <summary>Opens the sinks one after the other (creating the schema must not race itself).</summary>
    public async Task OpenAsync(CancellationToken cancellationToken)
    {
        foreach (var (sink, _) in writers)
        {
            await sink.OpenAsync(cancellationToken);
        }
    }

    /// <summary>Runs every writer until the buffer is complete and drained, or <paramref name="abort"/>.</summary>
    public Task RunAsync(CancellationToken abort) => Task.WhenAll(writers.Select(w => w.Writer.RunAsync(abort)));

    public async ValueTask DisposeAsync()
    {
        foreach (var (sink, _) in writers)
        {
            await sink.DisposeAsync();
        }
    }
}
