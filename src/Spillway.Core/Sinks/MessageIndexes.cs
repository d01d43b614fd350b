namespace Spillway.Sinks;

/// <summary>
/// The indexes a sink keeps on its <c>messages</c> table, for the questions <c>spillway query</c> and <c>tail</c> ask:
/// each makes those reads fast and every insert a little slower (docs/operations.md gives the measured cost).
/// </summary>
[Flags]
public enum MessageIndexes
{
    /// <summary>No index but the id (retention still adds <see cref="Time"/>: it deletes by it).</summary>
    None = 0,

    /// <summary>By <c>received_at</c>: <c>--since</c>, <c>--until</c>, and the retention's deletes.</summary>
    Time = 1,

    /// <summary>By <c>hostname</c>, newest first.</summary>
    Host = 2,

    /// <summary>By <c>app_name</c>, newest first.</summary>
    App = 4,

    /// <summary>By <c>severity</c>, newest first.</summary>
    Severity = 8,
}

/// <summary>One index on the messages table: its name after the table's, and its columns, the same in both sinks.</summary>
/// <param name="Index">Which it is.</param>
/// <param name="Suffix">Its name is the table's with this after an underscore: <c>messages_received_at</c>.</param>
/// <param name="Columns">The columns, as SQL; the id after a column makes "the newest of this host" one index walk.</param>
public sealed record MessageIndex(MessageIndexes Index, string Suffix, string Columns)
{
    /// <summary>The indexes both sinks keep unless told: those worth their insert cost (docs/operations.md, "Indexes").</summary>
    public const MessageIndexes Default = MessageIndexes.None;

    /// <summary>
    /// Every index a sink may keep, in order. The name of the time index is the one the retention made before the
    /// others existed, so a database from then keeps it.
    /// </summary>
    public static IReadOnlyList<MessageIndex> All { get; } =
    [
        new(MessageIndexes.Time, "received_at", "received_at"),
        new(MessageIndexes.Host, "hostname_id", "hostname, id"),
        new(MessageIndexes.App, "app_name_id", "app_name, id"),
        new(MessageIndexes.Severity, "severity_id", "severity, id"),
    ];

    /// <summary>The indexes in force: <paramref name="chosen"/>, and the time index whenever rows are deleted by age or size.</summary>
    public static MessageIndexes InForce(MessageIndexes chosen, bool retention) => retention ? chosen | MessageIndexes.Time : chosen;

    /// <summary>
    /// The statements, in both sinks' SQL, that make the indexes in force and drop those of these names that are not,
    /// on the tables <c>{prefix}messages</c> and <c>{prefix}rejects</c>: the rejects are only ever deleted by age, so
    /// theirs by time is kept while a retention runs.
    /// </summary>
    public static string Statements(MessageIndexes inForce, bool retention, string prefix = "")
    {
        var sql = new System.Text.StringBuilder();
        foreach (var index in All)
        {
            var name = $"\"{prefix}messages_{index.Suffix}\"";
            sql.AppendLine(inForce.HasFlag(index.Index)
                ? $"CREATE INDEX IF NOT EXISTS {name} ON \"{prefix}messages\" ({index.Columns});"
                : $"DROP INDEX IF EXISTS {name};");
        }

        sql.AppendLine(retention
            ? $"CREATE INDEX IF NOT EXISTS \"{prefix}rejects_received_at\" ON \"{prefix}rejects\" (received_at);"
            : $"DROP INDEX IF EXISTS \"{prefix}rejects_received_at\";");
        return sql.ToString();
    }

    /// <summary>The set as the setting writes it: <c>time,host</c>, or <c>none</c>.</summary>
    public static string Format(MessageIndexes indexes) => indexes == MessageIndexes.None
        ? "none"
        : string.Join(',', All.Where(i => indexes.HasFlag(i.Index)).Select(i => i.Index.ToString().ToLowerInvariant()));

    /// <summary>Parses <c>time,host,app,severity</c> in any order and case, or <c>none</c>; false on any other word.</summary>
    public static bool TryParse(string text, out MessageIndexes indexes)
    {
        ArgumentNullException.ThrowIfNull(text);
        indexes = MessageIndexes.None;
        var words = text.Split(',', StringSplitOptions.TrimEntries);
        if (words is [var only] && only.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        foreach (var word in words)
        {
            var index = All.FirstOrDefault(i => i.Index.ToString().Equals(word, StringComparison.OrdinalIgnoreCase));
            if (index is null)
            {
                indexes = MessageIndexes.None;
                return false;
            }

            indexes |= index.Index;
        }

        return true;
    }
}
