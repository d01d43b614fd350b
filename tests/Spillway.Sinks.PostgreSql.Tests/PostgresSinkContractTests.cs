using Spillway.Testing;

namespace Spillway.Sinks.PostgreSql.Tests;

public sealed class PostgresSinkContractTests : SinkContractTests, IAsyncLifetime
{
    private TestDatabase _database = null!;

    public ValueTask InitializeAsync()
    {
        _database = TestDatabase.Create();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _database.DisposeAsync();

    protected override ISink CreateSink(TimeSpan retention, TimeProvider time, int chunkRows, MessageIndexes indexes) =>
        new PostgresSink(new PostgresSinkOptions
        {
            ConnectionString = _database.ConnectionString, TablePrefix = _database.Prefix, Retention = retention, RetentionChunkRows = chunkRows,
            Indexes = indexes,
        }, _database.DataSource, Microsoft.Extensions.Logging.Abstractions.NullLogger<PostgresSink>.Instance, time);

    protected override async Task<IReadOnlyList<string>> IndexNamesAsync() =>
        [.. (await _database.ColumnAsync<string>("SELECT indexname FROM pg_indexes WHERE tablename = '{p}messages' ORDER BY indexname"))
            .Select(name => name[_database.Prefix.Length..]).Where(name => name != "messages_pkey")];

    protected override IMessageReader CreateReader() =>
        new PostgresMessageReader(new PostgresSinkOptions { ConnectionString = _database.ConnectionString, TablePrefix = _database.Prefix },
            _database.DataSource);

    protected override async Task<IReadOnlyList<StoredMessage>> ReadMessagesAsync()
    {
        await using var command = _database.DataSource.CreateCommand($"""
            SELECT received_at, source, peer, facility, severity, "timestamp", hostname, app_name, proc_id, msg_id, structured_data, message, client
            FROM "{_database.Prefix}messages" ORDER BY id
            """);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<StoredMessage>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(new StoredMessage(
                reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.GetString(2), Nullable<short>(reader, 3), Nullable<short>(reader, 4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5), Text(reader, 6), Text(reader, 7), Text(reader, 8), Text(reader, 9),
                Text(reader, 10), reader.GetString(11))
            {
                Client = Text(reader, 12),
            });
        }

        return rows;
    }

    protected override async Task<IReadOnlyList<StoredReject>> ReadRejectsAsync()
    {
        await using var command = _database.DataSource.CreateCommand(
            $"SELECT received_at, source, peer, reason, detail, raw, client FROM \"{_database.Prefix}rejects\" ORDER BY id");
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var rows = new List<StoredReject>();
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(new StoredReject(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), Text(reader, 4))
            {
                Raw = reader.GetFieldValue<byte[]>(5),
                Client = Text(reader, 6),
            });
        }

        return rows;
    }

    private static string? Text(Npgsql.NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static int? Nullable<T>(Npgsql.NpgsqlDataReader reader, int ordinal)
        where T : struct => reader.IsDBNull(ordinal) ? null : Convert.ToInt32(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
}
