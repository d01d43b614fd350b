using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Sinks.Sqlite.Tests;

public sealed class SqliteSinkTests : IDisposable
{
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task The_database_is_in_WAL_mode_with_its_three_tables()
    {
        await using var sink = new SqliteSink(new SqliteSinkOptions { Path = _database.Path }, NullLogger<SqliteSink>.Instance);
        await sink.OpenAsync(Ct);

        using var connection = _database.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", command.ExecuteScalar());
        command.CommandText = "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)";
        Assert.Equal("batches,messages,rejects", command.ExecuteScalar());
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(1L)] // a seventh fractional digit, which is cut, not rounded
    [InlineData(9_999_999L)]
    public async Task Times_are_stored_as_ISO_8601_UTC_text_to_the_microsecond(long ticks)
    {
        var at = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)).AddTicks(ticks);
        var message = new Message(at, Transport.Tcp, "127.0.0.1:9", "m", 1) { Timestamp = at.AddYears(-2000) };
        var reject = new Reject(at, Transport.Tcp, "127.0.0.1:9", RejectReason.Truncated, [1], null);
        await using (var sink = new SqliteSink(new SqliteSinkOptions { Path = _database.Path }, NullLogger<SqliteSink>.Instance))
        {
            await sink.OpenAsync(Ct);
            var batch = new Batch();
            batch.Add(message);
            batch.Add(reject);
            await sink.WriteAsync(batch, Ct);
        }

        using var connection = _database.Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT m.received_at, m.timestamp, r.received_at FROM messages m, rejects r";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        var expected = $"2026-01-02T01:04:05.{ticks / 10:D6}Z";
        Assert.Equal(expected, reader.GetString(0));
        Assert.Equal("0026" + expected[4..], reader.GetString(1));
        Assert.Equal(expected, reader.GetString(2));
        Assert.Equal(expected, SqliteSink.FormatTime(at));
    }

    [Fact]
    public async Task A_missing_directory_is_created()
    {
        var path = Path.Combine(_database.Directory, "a", "b", "spillway.db");
        await using var sink = new SqliteSink(new SqliteSinkOptions { Path = path }, NullLogger<SqliteSink>.Instance);
        await sink.OpenAsync(Ct);
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task A_path_that_cannot_be_a_database_fails_open_with_a_message_naming_it()
    {
        // A directory where the file should be: no database can be created there.
        await using var sink = new SqliteSink(new SqliteSinkOptions { Path = _database.Directory }, NullLogger<SqliteSink>.Instance);
        var error = await Assert.ThrowsAsync<SinkUnavailableException>(() => sink.OpenAsync(Ct).AsTask());
        Assert.StartsWith($"cannot open SQLite database '{_database.Directory}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_write_blocked_by_another_connections_lock_fails_and_succeeds_once_the_lock_is_gone()
    {
        await using var sink = new SqliteSink(
            new SqliteSinkOptions { Path = _database.Path, BusyTimeout = TimeSpan.FromSeconds(1) }, NullLogger<SqliteSink>.Instance);
        await sink.OpenAsync(Ct);
        var batch = new Batch();
        batch.Add(new Message(DateTimeOffset.UnixEpoch, Transport.Tcp, "127.0.0.1:1", "held up", 7));

        using (var other = _database.Connect())
        {
            using var exclusive = other.BeginTransaction(System.Data.IsolationLevel.Serializable, deferred: false);
            var error = await Assert.ThrowsAsync<SqliteException>(() => sink.WriteAsync(batch, Ct).AsTask());
            Assert.Equal(5, error.SqliteErrorCode); // SQLITE_BUSY
        }

        await sink.WriteAsync(batch, Ct);
        Assert.Equal(1, _database.Count("messages"));
    }

    [Fact]
    public async Task The_writer_retries_a_locked_database_with_backoff_and_stores_every_message_once()
    {
        var stats = new IngestStats();
        var buffer = new IngestBuffer(new IngestBufferOptions(), stats);
        var logger = new FakeLogger<BatchWriter>();
        await using var sink = new SqliteSink(
            new SqliteSinkOptions { Path = _database.Path, BusyTimeout = TimeSpan.FromSeconds(1) }, NullLogger<SqliteSink>.Instance);
        await sink.OpenAsync(Ct);
        var writer = new BatchWriter(buffer, sink,
            new BatchWriterOptions { BatchSize = 100, Linger = TimeSpan.Zero, RetryInitialDelay = TimeSpan.FromMilliseconds(20) },
            stats, TimeProvider.System, logger);

        var other = _database.Connect();
        var exclusive = other.BeginTransaction(System.Data.IsolationLevel.Serializable, deferred: false);
        var run = writer.RunAsync(Ct);
        for (var i = 0; i < 1_000; i++)
        {
            await buffer.WriteAsync(new Message(DateTimeOffset.UnixEpoch, Transport.Tcp, "127.0.0.1:1", $"m{i}", 4), Ct);
        }

        await Eventually.Until(() => writer.State == WriterState.Retrying, "the writer to be retrying");
        Assert.Contains("locked", writer.LastError, StringComparison.OrdinalIgnoreCase);
        exclusive.Dispose();
        other.Dispose();

        buffer.Complete();
        await run.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(1_000, _database.Count("messages"));
        Assert.Equal(1_000, stats.Stored);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == EventIds.BatchWriteFailed);
        Assert.Contains(logger.Collector.GetSnapshot(), r => r.Id.Id == EventIds.BatchWriteRecovered);
    }

    [Fact]
    public void Options_are_validated_naming_the_bad_value()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new SqliteSink(new SqliteSinkOptions { BusyTimeout = TimeSpan.Zero }, NullLogger<SqliteSink>.Instance));
        Assert.Equal("BusyTimeout", error.ParamName);
    }
}
