using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Testing;

namespace Spillway.Sinks.Sqlite.Tests;

public sealed class SqliteSinkContractTests : SinkContractTests, IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    protected override ISink CreateSink(TimeSpan retention, TimeProvider time, int chunkRows, MessageIndexes indexes) =>
        new SqliteSink(new SqliteSinkOptions { Path = _database.Path, Retention = retention, RetentionChunkRows = chunkRows, Indexes = indexes },
            NullLogger<SqliteSink>.Instance, time);

    protected override Task<IReadOnlyList<string>> IndexNamesAsync() => Task.FromResult<IReadOnlyList<string>>(
        _database.Column<string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' ORDER BY name"));

    protected override IMessageReader CreateReader() => SqliteMessageReader.Open(_database.Path);

    protected override Task<IReadOnlyList<StoredMessage>> ReadMessagesAsync()
    {
        using var connection = _database.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT received_at, source, peer, facility, severity, timestamp, hostname, app_name, proc_id, msg_id, structured_data, message, client
            FROM messages ORDER BY id
            """;
        using var reader = command.ExecuteReader();
        var rows = new List<StoredMessage>();
        while (reader.Read())
        {
            rows.Add(new StoredMessage(
                Time(reader.GetString(0)), reader.GetString(1), reader.GetString(2), NullableInt(reader, 3), NullableInt(reader, 4),
                reader.IsDBNull(5) ? null : Time(reader.GetString(5)), Text(reader, 6), Text(reader, 7), Text(reader, 8), Text(reader, 9),
                Text(reader, 10), reader.GetString(11))
            {
                Client = Text(reader, 12),
            });
        }

        return Task.FromResult<IReadOnlyList<StoredMessage>>(rows);
    }

    protected override Task<IReadOnlyList<StoredReject>> ReadRejectsAsync()
    {
        using var connection = _database.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT received_at, source, peer, reason, detail, raw, client FROM rejects ORDER BY id";
        using var reader = command.ExecuteReader();
        var rows = new List<StoredReject>();
        while (reader.Read())
        {
            rows.Add(new StoredReject(Time(reader.GetString(0)), reader.GetString(1), reader.GetString(2), reader.GetString(3), Text(reader, 4))
            {
                Raw = (byte[])reader.GetValue(5),
                Client = Text(reader, 6),
            });
        }

        return Task.FromResult<IReadOnlyList<StoredReject>>(rows);
    }

    private static DateTimeOffset Time(string text)
    {
        // Stored as ISO 8601 UTC with a Z, to the microsecond: readable in sqlite3 and understood by its date functions.
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", text);
        return DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
    }

    private static string? Text(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static int? NullableInt(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt32(ordinal);
}
