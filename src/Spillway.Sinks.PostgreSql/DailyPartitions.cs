using System.Globalization;
using Npgsql;

namespace Spillway.Sinks.PostgreSql;

/// <summary>
/// The partitions of one table partitioned by range on <c>received_at</c>, a UTC day each, named
/// <c>{table}_pYYYYMMDD</c>: made before a row needs them (ahead of time, and for the days of a batch not made yet),
/// and dropped whole once the day is past the retention. Partitions it did not name are left alone. For a table that
/// is not partitioned (one of an earlier version), every method does nothing.
/// </summary>
/// <remarks>
/// Making or dropping a partition locks the parent table against writes while it runs (PostgreSQL takes an ACCESS
/// EXCLUSIVE lock for both): each waits at most <see cref="LockTimeout"/> for that lock, so ingest is held up that long
/// at worst, and a partition that could not be made ahead of time is tried again at the next sweep.
/// </remarks>
internal sealed class DailyPartitions
{
    /// <summary>How long making or dropping a partition waits for the parent's lock before it gives up until the next try.</summary>
    public const string LockTimeout = "5s";

    /// <summary>Days made ahead of today, so that midnight never waits for a partition.</summary>
    public const int DaysAhead = 2;

    private readonly string _table;
    private readonly HashSet<DateOnly> _known = [];

    /// <param name="table">The parent's name, unquoted (prefix and all): <c>messages</c>, <c>t1_rejects</c>.</param>
    public DailyPartitions(string table) => _table = table;

    /// <summary>Whether the table is partitioned, as the schema found it.</summary>
    public bool Active { get; set; }

    /// <summary>The table's name, quoted, as the log says it.</summary>
    public string Table => $"\"{_table}\"";

    /// <summary>The partition that holds <paramref name="day"/>, unquoted.</summary>
    public string NameOf(DateOnly day) => _table + "_p" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    /// <summary>The UTC day of a time.</summary>
    public static DateOnly DayOf(DateTimeOffset time) => DateOnly.FromDateTime(time.UtcDateTime);

    /// <summary>Forgets which partitions exist (one was dropped under the sink): the next write makes them again.</summary>
    public void Forget() => _known.Clear();

    /// <summary>Makes the partitions of <paramref name="days"/> that are not known to exist, each in a transaction of its own.</summary>
    public async Task EnsureAsync(NpgsqlConnection connection, IEnumerable<DateOnly> days, CancellationToken cancellationToken)
    {
        foreach (var day in days)
        {
            if (!Active || _known.Contains(day))
            {
                continue;
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var from = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            var to = day.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

            // The day comes from the service's clock or a batch's received times, never from a sender: there is nothing
            // of the input in the statement (and DDL takes no parameters). Writers making the same day at once take turns.
            await using var command = new NpgsqlCommand(
                $"""
                SET LOCAL lock_timeout = '{LockTimeout}';
                SELECT pg_advisory_xact_lock(hashtext('spillway partitions {_table}'));
                CREATE TABLE IF NOT EXISTS "{NameOf(day)}" PARTITION OF "{_table}" FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00');
                """, connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _known.Add(day);
        }
    }

    /// <summary>Reads which of this table's partitions exist, so that a restart does not make them again.</summary>
    public async Task LoadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        _known.Clear();
        if (!Active)
        {
            return;
        }

        foreach (var (_, day) in await ListAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            _known.Add(day);
        }
    }

    /// <summary>Drops every partition whose whole day is before <paramref name="cutoff"/>; returns their names.</summary>
    public async Task<List<string>> DropBeforeAsync(NpgsqlConnection connection, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var dropped = new List<string>();
        if (!Active)
        {
            return dropped;
        }

        foreach (var (name, day) in await ListAsync(connection, cancellationToken).ConfigureAwait(false))
        {
            var end = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            if (end > cutoff)
            {
                continue;
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                $"SET LOCAL lock_timeout = '{LockTimeout}'; DROP TABLE IF EXISTS \"{name}\";", connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _known.Remove(day);
            dropped.Add(name);
        }

        return dropped;
    }

    /// <summary>The partitions of the table that carry a name this class gives, with their days, oldest first.</summary>
    private async Task<List<(string Name, DateOnly Day)>> ListAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass(quote_ident($1)) ORDER BY c.relname
            """, connection);
        command.Parameters.AddWithValue(_table);
        var partitions = new List<(string, DateOnly)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var prefix = _table + "_p";
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var name = reader.GetString(0);
            if (name.StartsWith(prefix, StringComparison.Ordinal) && name.Length == prefix.Length + 8
                && DateOnly.TryParseExact(name.AsSpan(prefix.Length), "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                partitions.Add((name, day));
            }
        }

        return partitions;
    }
}
