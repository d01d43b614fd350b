using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace Spillway.Sinks.PostgreSql;

/// <summary>Reads stored messages from PostgreSQL, beside a <c>serve</c> writing the same tables.</summary>
public sealed class PostgresMessageReader : IMessageReader
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _messages;

    // Whether the messages table has the client column: tables of before it have none until a serve of now opens them.
    private bool _hasClient;

    /// <summary>Reads the messages table named by <paramref name="options"/>' prefix, through <paramref name="dataSource"/>.</summary>
    public PostgresMessageReader(PostgresSinkOptions options, NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dataSource);
        options.Validate();
        _dataSource = dataSource;
        _messages = $"\"{options.TablePrefix}messages\"";
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<StoredRow>> ReadAsync(MessageQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var command = _dataSource.CreateCommand();
        var where = new StringBuilder("WHERE true");
        void Filter(string condition, object? value, NpgsqlDbType type)
        {
            if (value is not null)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = value, NpgsqlDbType = type });
                where.Append(" AND ").Append(condition.Replace("@", "$" + command.Parameters.Count, StringComparison.Ordinal));
            }
        }

        Filter("received_at >= @", query.Since?.ToUniversalTime(), NpgsqlDbType.TimestampTz);
        Filter("received_at < @", query.Until?.ToUniversalTime(), NpgsqlDbType.TimestampTz);
        Filter("app_name = @", query.App, NpgsqlDbType.Text);
        Filter("hostname = @", query.Host, NpgsqlDbType.Text);
        var hasClient = await HasClientAsync(cancellationToken).ConfigureAwait(false);
        if (query.Client is not null && !hasClient)
        {
            return []; // no row of a table without the column says who sent it
        }

        Filter("client = @", query.Client, NpgsqlDbType.Text);
        Filter("source = @", query.Source, NpgsqlDbType.Text);
        Filter("severity <= @", query.Severity, NpgsqlDbType.Smallint);
        Filter("strpos(message, @) > 0", query.Grep, NpgsqlDbType.Text);
        Filter("id > @", query.AfterId, NpgsqlDbType.Bigint);
        command.Parameters.Add(new NpgsqlParameter { Value = query.Limit, NpgsqlDbType = NpgsqlDbType.Integer });
        var limit = "$" + command.Parameters.Count;
        var columns = "id, received_at, source, peer, facility, severity, \"timestamp\", hostname, app_name, proc_id, msg_id, structured_data, message, "
            + (hasClient ? "client" : "NULL::text AS client");
        command.CommandText = query.AfterId is null
            ? $"SELECT * FROM (SELECT {columns} FROM {_messages} {where} ORDER BY id DESC LIMIT {limit}) newest ORDER BY id"
            : $"SELECT {columns} FROM {_messages} {where} ORDER BY id LIMIT {limit}";
        var rows = new List<StoredRow>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add(new StoredRow(
                    reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3), Int(reader, 4),
                    Int(reader, 5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6), Text(reader, 7), Text(reader, 8),
                    Text(reader, 9), Text(reader, 10), Text(reader, 11), reader.GetString(12), Text(reader, 13)));
            }
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return []; // serve has not made its tables yet
        }
        catch (NpgsqlException ex)
        {
            throw new SinkUnavailableException($"cannot read {_messages} from PostgreSQL: {ex.Message}", ex);
        }

        return rows;
    }

    /// <summary>Whether the messages table has the client column; asked until it has (a serve may add it meanwhile).</summary>
    private async Task<bool> HasClientAsync(CancellationToken cancellationToken)
    {
        if (!_hasClient)
        {
            try
            {
                await using var command = _dataSource.CreateCommand(
                    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'client' AND NOT attisdropped)");
                command.Parameters.Add(new NpgsqlParameter { Value = _messages, NpgsqlDbType = NpgsqlDbType.Text });
                _hasClient = (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
            catch (NpgsqlException ex)
            {
                throw new SinkUnavailableException($"cannot read {_messages} from PostgreSQL: {ex.Message}", ex);
            }
        }

        return _hasClient;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the data source is the caller's

    private static int? Int(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetInt16(column);

    private static string? Text(NpgsqlDataReader reader, int column) => reader.IsDBNull(column) ? null : reader.GetString(column);
}
