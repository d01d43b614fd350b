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

    [Fact]
    public async Task A_new_database_gives_the_pages_of_expired_rows_back_to_the_filesystem()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero));
        await using var sink = new SqliteSink(
            new SqliteSinkOptions { Path = _database.Path, Retention = TimeSpan.FromDays(1), RetentionChunkRows = 100_000 },
            NullLogger<SqliteSink>.Instance, time);
        await sink.OpenAsync(Ct);
        Assert.Equal([2L], _database.Column<long>("PRAGMA auto_vacuum")); // INCREMENTAL

        var text = new string('x', 400);
        var batch = new Batch();
        for (var i = 0; i < 5_000; i++)
        {
            batch.Add(new Message(time.GetUtcNow(), Transport.Tcp, "127.0.0.1:9", text, text.Length));
        }

        await sink.WriteAsync(batch, Ct);
        var full = _database.Column<long>("PRAGMA page_count")[0];

        time.Advance(TimeSpan.FromDays(2));
        var fresh = new Batch();
        fresh.Add(new Message(time.GetUtcNow(), Transport.Tcp, "127.0.0.1:9", "new", 3));
        await sink.WriteAsync(fresh, Ct);

        Assert.Equal(1, _database.Count("messages"));
        Assert.Equal(5_000, sink.Expired);
        Assert.Equal([0L], _database.Column<long>("PRAGMA freelist_count"));
        Assert.True(_database.Column<long>("PRAGMA page_count")[0] < full / 10, "the pages of the deleted rows were not given back");
    }

    [Fact]
    public async Task A_database_made_without_auto_vacuum_keeps_working_and_is_said_to_keep_its_size()
    {
        using (var connection = _database.Connect())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "CREATE TABLE unrelated (x INTEGER)"; // a table before the sink: auto_vacuum stays NONE
            command.ExecuteNonQuery();
        }

        var logger = new FakeLogger<SqliteSink>();
        await using var sink = new SqliteSink(new SqliteSinkOptions { Path = _database.Path, Retention = TimeSpan.FromDays(1) }, logger);
        await sink.OpenAsync(Ct);
        var batch = new Batch();
        batch.Add(new Message(TimeProvider.System.GetUtcNow().AddDays(-2), Transport.Tcp, "127.0.0.1:9", "old", 3));
        await sink.WriteAsync(batch, Ct);

        Assert.Equal([0L], _database.Column<long>("PRAGMA auto_vacuum"));
        Assert.Equal(0, _database.Count("messages"));
        var warning = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == EventIds.SqliteNoAutoVacuum);
        Assert.Contains("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_database_of_the_version_before_clients_gets_the_client_column_and_keeps_its_rows()
    {
        using (var connection = _database.Connect())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                CREATE TABLE messages (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, source TEXT NOT NULL, peer TEXT NOT NULL,
                    facility INTEGER, severity INTEGER, timestamp TEXT, hostname TEXT, app_name TEXT, proc_id TEXT, msg_id TEXT,
                    structured_data TEXT, message TEXT NOT NULL);
                CREATE TABLE rejects (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, source TEXT NOT NULL, peer TEXT NOT NULL,
                    reason TEXT NOT NULL, detail TEXT, raw BLOB NOT NULL);
                INSERT INTO messages (received_at, source, peer, message) VALUES ('2026-11-01T00:00:00.000000Z', 'tcp', '127.0.0.1:9', 'before');
                """;
            command.ExecuteNonQuery();
        }

        // spillway query reads the table of before, as it is, before any serve of now has opened it.
        await using (var reader = SqliteMessageReader.Open(_database.Path))
        {
            Assert.Equal(("before", null), Assert.Single((await reader.ReadAsync(new MessageQuery(), Ct)).Select(r => (r.Message, r.Client))));
            Assert.Empty(await reader.ReadAsync(new MessageQuery { Client = "billing" }, Ct));
        }

        var keyed = new Message(TimeProvider.System.GetUtcNow(), Transport.Https, "127.0.0.1:9", "after", 5) { Client = "billing" };
        var reject = new Reject(TimeProvider.System.GetUtcNow(), Transport.Https, "127.0.0.1:9", RejectReason.InvalidUtf8, [0xff], "not UTF-8")
        {
            Client = "billing",
        };
        for (var open = 0; open < 2; open++) // the second open finds the column there and adds nothing
        {
            await using var sink = new SqliteSink(new SqliteSinkOptions { Path = _database.Path }, NullLogger<SqliteSink>.Instance);
            await sink.OpenAsync(Ct);
            var batch = new Batch();
            batch.Add(keyed);
            batch.Add(reject);
            await sink.WriteAsync(batch, Ct);
        }

        Assert.Equal(["before:", "after:billing", "after:billing"], _database.Column<string>("SELECT message || ':' || ifnull(client, '') FROM messages ORDER BY id"));
        Assert.Equal(["billing", "billing"], _database.Column<string>("SELECT client FROM rejects ORDER BY id"));
    }

    [Fact]
    public async Task Max_db_bytes_keeps_the_file_under_the_bound_under_a_stream_deleting_the_oldest_rows()
    {
        const long Bound = 2L << 20;
        var logger = new FakeLogger<SqliteSink>();
        await using var sink = new SqliteSink(new SqliteSinkOptions { Path = _database.Path, MaxBytes = Bound, RetentionChunkRows = 500 }, logger);
        await sink.OpenAsync(Ct);

        // 20,000 messages of about 300 bytes: three times the bound, in batches of 500 (a reject in every tenth).
        var text = new string('m', 280);
        var at = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero);
        for (var b = 0; b < 40; b++)
        {
            var batch = new Batch();
            for (var i = 0; i < 500; i++)
            {
                batch.Add(new Message(at.AddSeconds(b * 500 + i), Transport.Tcp, "127.0.0.1:9", $"{b * 500 + i:D6} {text}", text.Length + 7));
            }

            if (b % 10 == 0)
            {
                batch.Add(new Reject(at.AddSeconds(b * 500), Transport.Tcp, "127.0.0.1:9", RejectReason.InvalidUtf8, [0xff], null));
            }

            await sink.WriteAsync(batch, Ct);
            var size = new FileInfo(_database.Path).Length;
            Assert.True(size <= Bound, $"after batch {b} the file holds {size:N0} bytes, past the bound of {Bound:N0}");
        }

        // The newest are all there, the oldest gone, oldest first: the ids kept are one run up to the last.
        var kept = _database.Column<string>("SELECT substr(message, 1, 6) FROM messages ORDER BY id");
        Assert.Equal("019999", kept[^1]);
        Assert.True(kept.Count is > 1_000 and < 20_000, $"{kept.Count} messages kept");
        Assert.Equal(Enumerable.Range(20_000 - kept.Count, kept.Count).Select(i => i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)), kept);
        Assert.Equal(20_000 + 4 - kept.Count - _database.Count("rejects"), sink.Expired);
        Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == EventIds.SqliteSizeBound); // once a minute at most
    }

    [Theory]
    [InlineData(1L)]
    [InlineData((1L << 20) - 1)]
    public void A_size_bound_too_small_to_hold_a_batch_is_refused(long bytes) =>
        Assert.Equal("MaxBytes", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new SqliteSink(new SqliteSinkOptions { MaxBytes = bytes }, NullLogger<SqliteSink>.Instance)).ParamName);
}
