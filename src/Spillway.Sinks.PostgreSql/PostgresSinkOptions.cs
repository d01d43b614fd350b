using System.Text.RegularExpressions;

namespace Spillway.Sinks.PostgreSql;

/// <summary>Where the PostgreSQL sink writes.</summary>
public sealed partial record PostgresSinkOptions
{
    /// <summary>An Npgsql connection string, such as <c>Host=db;Username=spillway;Password=...;Database=logs</c>.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>
    /// Put before the table names: <c>messages</c>, <c>rejects</c> and the <c>batches</c> ledger become
    /// <c>{prefix}messages</c> and so on (lower case letters, digits and underscores). <value>The default is none.</value>
    /// </summary>
    public string TablePrefix { get; init; } = "";

    /// <summary>
    /// How long rows are kept, by the time they were received: older ones are deleted from the messages and rejects
    /// tables in chunks between batches. <value>The default, <see cref="TimeSpan.Zero"/>, keeps every row.</value>
    /// </summary>
    public TimeSpan Retention { get; init; }

    /// <summary>The most rows one chunk of the retention deletes from a table. <value>The default is 5,000.</value></summary>
    public int RetentionChunkRows { get; init; } = Sinks.Retention.DefaultChunkRows;

    /// <summary>
    /// The indexes on the messages table besides its id (the time index is kept whatever this says while a retention
    /// deletes by it). <value>The default is <see cref="MessageIndex.Default"/>.</value>
    /// </summary>
    public MessageIndexes Indexes { get; init; } = MessageIndex.Default;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that is wrong.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ConnectionString, nameof(ConnectionString));
        ArgumentOutOfRangeException.ThrowIfLessThan(Retention, TimeSpan.Zero, nameof(Retention));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetentionChunkRows, 1, nameof(RetentionChunkRows));
        if (!TablePrefixPattern().IsMatch(TablePrefix))
        {
            throw new ArgumentException(
                $"'{TablePrefix}' is not a table prefix: use lower case letters, digits and underscores, starting with a letter or underscore.",
                nameof(TablePrefix));
        }
    }

    [GeneratedRegex("^([a-z_][a-z0-9_]{0,40})?$")]
    private static partial Regex TablePrefixPattern();
}
