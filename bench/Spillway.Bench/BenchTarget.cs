using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;
using Spillway.Sinks;
using Spillway.Sinks.PostgreSql;
using Spillway.Sinks.Sqlite;

namespace Spillway.Bench;

/// <summary>
/// The database a benchmark writes to, seen from both halves: the sink the ceiling writes through, the arguments
/// that point <c>serve</c> at the same place, and the queries that watch rows arrive and check them afterwards.
/// </summary>
internal abstract class BenchTarget : IAsyncDisposable
{
    /// <summary>The sink's name, as <c>--sink</c> takes it.</summary>
    public abstract string Name { get; }

    /// <summary>The arguments that make <c>serve</c> write where <see cref="CreateSink"/> writes.</summary>
    public abstract IReadOnlyList<string> ServeArguments { get; }

    /// <summary>Empties the target: a fresh database file, or dropped tables.</summary>
    public abstract Task ResetAsync(CancellationToken cancellationToken);

    /// <summary>A sink with the options <c>serve</c> uses by default.</summary>
    public abstract ISink CreateSink(ILoggerFactory loggers);

    /// <summary>
    /// The highest message id stored: cheap (an index lookup), and never less than the rows stored, so it tells when
    /// to <see cref="CountAsync(long, CancellationToken)">count</see>. Zero when there are none yet.
    /// </summary>
    public abstract Task<long> HighestIdAsync(CancellationToken cancellationToken);

    /// <summary>The rows in the messages table whose id is above <paramref name="afterId"/>.</summary>
    public abstract Task<long> CountAsync(long afterId, CancellationToken cancellationToken);

    /// <summary>The rows in the messages table.</summary>
    public Task<long> CountAsync(CancellationToken cancellationToken) => CountAsync(0, cancellationToken);

    /// <summary>The rows in the rejects table.</summary>
    public abstract Task<long> CountRejectsAsync(CancellationToken cancellationToken);

    /// <summary>Every stored message's text, in no particular order.</summary>
    public abstract IAsyncEnumerable<string> ReadMessagesAsync(CancellationToken cancellationToken);

    /// <summary>The database's name and version, for the report: <c>SQLite 3.x</c>, <c>PostgreSQL 15.x</c>.</summary>
    public abstract Task<string> VersionAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}

/// <summary>A SQLite file in a directory of the benchmark's own, deleted with it.</summary>
internal sealed class SqliteBenchTarget(string directory) : BenchTarget
{
    private readonly string _path = Path.Combine(directory, "bench.db");

    /// <summary>The connection the polls use, held while the file exists: a poll every 10 ms need not open one each time.</summary>
    private SqliteConnection? _watcher;

    public override string Name => "sqlite";

    public override IReadOnlyList<string> ServeArguments => ["--sqlite", _path];

    public override Task ResetAsync(CancellationToken cancellationToken)
    {
        CloseWatcher();
        foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
        {
            File.Delete(_path + suffix);
        }

        return Task.CompletedTask;
    }

    public override ISink CreateSink(ILoggerFactory loggers) =>
        new SqliteSink(new SqliteSinkOptions { Path = _path }, loggers.CreateLogger<SqliteSink>());

    public override Task<long> HighestIdAsync(CancellationToken cancellationToken) =>
        ScalarAsync("SELECT coalesce(max(id), 0) FROM messages", cancellationToken);

    public override Task<long> CountAsync(long afterId, CancellationToken cancellationToken) =>
        ScalarAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"SELECT count(*) FROM messages WHERE id > {afterId}"),
            cancellationToken);

    public override Task<long> CountRejectsAsync(CancellationToken cancellationToken) =>
        ScalarAsync("SELECT count(*) FROM rejects", cancellationToken);

    public override async IAsyncEnumerable<string> ReadMessagesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT message FROM messages";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return reader.GetString(0);
        }
    }

    public override Task<string> VersionAsync(CancellationToken cancellationToken)
    {
        // An in-memory database: the library's version, without touching the benchmark's file.
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        return Task.FromResult($"SQLite {connection.ServerVersion}");
    }

    public override ValueTask DisposeAsync()
    {
        CloseWatcher();
        return ValueTask.CompletedTask;
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken)
    {
        if (_watcher is null)
        {
            if (!File.Exists(_path))
            {
                return 0;
            }

            _watcher = Open();
        }

        await using var command = _watcher.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void CloseWatcher()
    {
        _watcher?.Dispose();
        _watcher = null;
    }

    // Read-only, unpooled: the file is deleted between runs, and the writer must never wait for the watcher.
    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }
}

/// <summary>Tables of their own (<see cref="TablePrefix"/>) in the database the connection string names, dropped after.</summary>
internal sealed class PostgresBenchTarget : BenchTarget
{
    public const string TablePrefix = "spillway_bench_";

    private readonly string _connectionString;
    private readonly NpgsqlDataSource _dataSource;

    public PostgresBenchTarget(string connectionString)
    {
        _connectionString = connectionString;
        try
        {
            _dataSource = NpgsqlDataSource.Create(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"invalid --postgres connection string: {ex.Message}", ex);
        }
    }

    public override string Name => "postgres";

    public override IReadOnlyList<string> ServeArguments => ["--postgres", _connectionString, "--postgres-table-prefix", TablePrefix];

    public override async Task ResetAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"DROP TABLE IF EXISTS {TablePrefix}messages, {TablePrefix}rejects, {TablePrefix}batches");
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public override ISink CreateSink(ILoggerFactory loggers) =>
        new PostgresSink(new PostgresSinkOptions { ConnectionString = _connectionString, TablePrefix = TablePrefix }, _dataSource,
            loggers.CreateLogger<PostgresSink>());

    public override Task<long> HighestIdAsync(CancellationToken cancellationToken) =>
        ScalarAsync($"SELECT coalesce(max(id), 0) FROM {TablePrefix}messages", cancellationToken);

    public override Task<long> CountAsync(long afterId, CancellationToken cancellationToken) =>
        ScalarAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"SELECT count(*) FROM {TablePrefix}messages WHERE id > {afterId}"),
            cancellationToken);

    public override Task<long> CountRejectsAsync(CancellationToken cancellationToken) =>
        ScalarAsync($"SELECT count(*) FROM {TablePrefix}rejects", cancellationToken);

    public override async IAsyncEnumerable<string> ReadMessagesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand($"SELECT message FROM {TablePrefix}messages");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return reader.GetString(0);
        }
    }

    public override async Task<string> VersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        return $"PostgreSQL {connection.PostgreSqlVersion}";
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await ResetAsync(CancellationToken.None);
        }
        finally
        {
            await _dataSource.DisposeAsync();
        }
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = _dataSource.CreateCommand(sql);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return 0; // serve has not created the tables yet
        }
    }
}
