using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Spillway.Testing;

namespace Spillway.Sinks.PostgreSql.Tests;

/// <summary>
/// Tables of the test's own (a unique prefix) in the PostgreSQL that ./test.sh starts (<see cref="PostgresServer"/>),
/// dropped at the end.
/// </summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private TestDatabase(string connectionString)
    {
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public string Prefix { get; } = $"t{Guid.NewGuid():N}"[..13] + "_";

    public static TestDatabase Create() => new(PostgresServer.ConnectionString());

    public PostgresSink Sink(NpgsqlDataSource? dataSource = null) =>
        new(new PostgresSinkOptions { ConnectionString = ConnectionString, TablePrefix = Prefix }, dataSource ?? DataSource,
            NullLogger<PostgresSink>.Instance);

    public async Task<long> CountAsync(string table, string where = "true")
    {
        await using var command = DataSource.CreateCommand($"SELECT count(*) FROM \"{Prefix}{table}\" WHERE {where}");
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }

    public async Task<List<T>> ColumnAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql.Replace("{p}", Prefix, StringComparison.Ordinal));
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var values = new List<T>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return values;
    }

    public async ValueTask DisposeAsync()
    {
        await using (var command = DataSource.CreateCommand(
            $"DROP TABLE IF EXISTS \"{Prefix}messages\", \"{Prefix}rejects\", \"{Prefix}batches\""))
        {
            await command.ExecuteNonQueryAsync();
        }

        await DataSource.DisposeAsync();
    }
}
