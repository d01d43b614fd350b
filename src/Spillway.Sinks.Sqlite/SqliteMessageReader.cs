using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Spillway.Sinks.Sqlite;

/// <summary>
/// Reads stored messages from a SQLite database, read-only: in WAL mode it reads beside a <c>serve</c> writing the
/// same file, seeing every batch committed before each read.
/// </summary>
public sealed class SqliteMessageReader : IMessageReader
{
    private readonly SqliteConnection _connection;

    // Whether the messages table has the client column: a database of before it has none until a serve of now opens it.
    private bool _hasClient;

    private SqliteMessageReader(SqliteConnection connection) => _connection = connection;

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="SinkUnavailableException">There is no database there, or it cannot be read.</exception>
    public static SqliteMessageReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new SinkUnavailableException($"there is no SQLite database at '{full}' (--sqlite names it)");
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = full, Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 5,
        }.ToString());
        try
        {
            connection.Open();
            return new SqliteMessageReader(connection);
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw new SinkUnavailableException($"cannot read the SQLite database '{full}': {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredRow>> ReadAsync(MessageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        cancellationToken.ThrowIfCancellationRequested();
        using var command = _connection.CreateCommand();
        var where = new StringBuilder("WHERE 1 = 1");
        void Filter(string condition, string name, object? value)
        {
            if (value is not null)
            {
                where.Append(" AND ").Append(condition);
                command.Parameters.AddWithValue(name, value);
            }
        }

        Filter("received_at >= $since", "$since", query.Since is { } since ? SqliteSink.FormatTime(since) : null);
        Filter("received_at < $until", "$until", query.Until is { } until ? SqliteSink.FormatTime(until) : null);
        Filter("app_name = $app", "$app", query.App);
        Filter("hostname = $host", "$host", query.Host);
        if (query.Client is not null && !HasClient())
        {
            return Task.FromResult<IReadOnlyList<StoredRow>>([]); // no row of a table without the column says who sent it
        }

        Filter("client = $client", "$client", query.Client);
        Filter("source = $source", "$source", query.Source);
        Filter("severity <= $severity", "$severity", query.Severity);
        Filter("instr(message, $grep) > 0", "$grep", query.Grep);
        Filter("id > $after", "$after", query.AfterId);
        command.Parameters.AddWithValue("$limit", query.Limit);
        var columns = "id, received_at, source, peer, facility, severity, timestamp, hostname, app_name, proc_id, msg_id, structured_data, message, "
            + (HasClient() ? "client" : "NULL AS client");
        command.CommandText = query.AfterId is null
            ? $"SELECT * FROM (SELECT {columns} FROM messages {where} ORDER BY id DESC LIMIT $limit) ORDER BY id"
            : $"SELECT {columns} FROM messages {where} ORDER BY id LIMIT $limit";
        var rows = new List<StoredRow>();
        try
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(new StoredRow(
                    reader.GetInt64(0), Time(reader.GetString(1)), reader.GetString(2), reader.GetString(3), Int(reader, 4), Int(reader, 5),
                    reader.IsDBNull(6) ? null : Time(reader.GetString(6)), Text(reader, 7), Text(reader, 8), Text(reader, 9), Text(reader, 10),
                    Text(reader, 11), reader.GetString(12), Text(reader, 13)));
            }
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 1 && ex.Message.Contains("no such table", StringComparison.Ordinal))
        {
            return Task.FromResult<IReadOnlyList<StoredRow>>([]); // a database serve has made, before its first batch
        }

        return Task.FromResult<IReadOnlyList<StoredRow>>(rows);
    }

    /// <summary>Whether the messages table has the client column; asked until it has (a serve may add it meanwhile).</summary>
    private bool HasClient()
    {
        if (!_hasClient)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'client'";
            _hasClient = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
        }

        return _hasClient;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _connection.Dispose();
        return ValueTask.CompletedTask;
    }

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static int? Int(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetInt32(column);

    private static string? Text(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);
}
