using Spillway.Pipeline;

namespace Spillway.Sinks;

/// <summary>
/// A database that stores batches. One writer calls a sink at a time; a sink used by several writers is one
/// instance per writer.
/// </summary>
public interface ISink : IAsyncDisposable
{
    /// <summary>
    /// What an operator should know of the sink's state that is not a failure, such as its file deleted or replaced
    /// under it and made anew; null when there is nothing. <c>/health</c> shows it, as degraded.
    /// </summary>
    string? Notice => null;

    /// <summary>How long rows are kept (by the time they were received); <see cref="TimeSpan.Zero"/> for ever.</summary>
    TimeSpan RetentionAge => TimeSpan.Zero;

    /// <summary>Rows of messages and rejects this sink deleted since the start, by age or by size.</summary>
    long Expired => 0;

    /// <summary>
    /// Connects and creates the schema if it is missing. Called once before the first write.
    /// </summary>
    /// <exception cref="SinkUnavailableException">The database cannot be reached or created; the message says why.</exception>
    ValueTask OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores every message and reject of the batch in one transaction, or throws and stores none of them. The same
    /// batch (same <see cref="Batch.Id"/>) may be written again after a failure whose outcome was unknown: it is then
    /// stored once. A message the database cannot hold is stored in the rejects table (<c>refused-by-db</c>, with the
    /// reason) instead. The sink must not keep the batch's lists.
    /// </summary>
    /// <returns>How many of the batch's messages went to the rejects table as refused by the database.</returns>
    ValueTask<int> WriteAsync(Batch batch, CancellationToken cancellationToken);
}
