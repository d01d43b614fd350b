using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Testing;

namespace Spillway.Sinks.PostgreSql.Tests;

/// <summary>The messages and rejects tables partitioned by day: made ahead, routed into, dropped whole, and the tables of an earlier version.</summary>
public sealed class PostgresPartitionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private TestDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _database = TestDatabase.Create();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Partitions_are_made_ahead_rows_are_copied_into_their_day_and_a_day_past_the_retention_is_dropped_whole()
    {
        await using var sink = Sink(TimeSpan.FromDays(30));
        await sink.OpenAsync(Ct);
        Assert.True(sink.Partitioned);
        Assert.Equal(["messages_p20261203", "messages_p20261204", "messages_p20261205"], await PartitionsAsync("messages"));
        Assert.Equal(["rejects_p20261203", "rejects_p20261204", "rejects_p20261205"], await PartitionsAsync("rejects"));

        // A batch of days with no partition yet (a spill log emptied after an outage): each day made, each row in its own.
        await sink.WriteAsync(TestItems.BatchOf(Message(Now.AddDays(-3), "three days ago"), Message(Now.AddDays(-1), "yesterday"),
            Message(Now, "today"), Reject(Now.AddDays(-3))), Ct);
        Assert.Equal(["three days ago"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages_p20261130\""));
        Assert.Equal(["yesterday"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages_p20261202\""));
        Assert.Equal(["today"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages_p20261203\""));
        Assert.Equal(1, await _database.CountAsync("rejects_p20261130"));

        // 28 days on, the retention's cutoff is past the whole of Nov 30 and in the middle of Dec 2.
        _time.Advance(TimeSpan.FromDays(28) + TimeSpan.FromHours(20));
        await sink.WriteAsync(TestItems.BatchOf(Message(_time.GetUtcNow(), "a month on")), Ct);
        var partitions = await PartitionsAsync("messages");
        Assert.DoesNotContain("messages_p20261130", partitions);
        Assert.Contains("messages_p20261202", partitions); // the day the cutoff falls in stays, its old rows deleted
        Assert.Contains("messages_p20270103", partitions); // made ahead as the days went by
        Assert.DoesNotContain("rejects_p20261130", await PartitionsAsync("rejects"));
        Assert.Equal(["yesterday", "today", "a month on"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages\" ORDER BY id"));
        Assert.Equal(2, sink.PartitionsDropped);
        Assert.Equal(0, await _database.CountAsync("rejects"));
    }

    [Fact]
    public async Task A_partition_dropped_under_the_sink_is_made_again_by_the_retry_and_no_row_is_rejected()
    {
        await using var sink = Sink(TimeSpan.Zero);
        await sink.OpenAsync(Ct);
        await using (var drop = _database.DataSource.CreateCommand($"DROP TABLE \"{_database.Prefix}messages_p20261203\""))
        {
            await drop.ExecuteNonQueryAsync(Ct);
        }

        var batch = TestItems.BatchOf(Message(Now, "after the drop"));
        batch.Id = Guid.CreateVersion7();
        await Assert.ThrowsAsync<Npgsql.PostgresException>(async () => await sink.WriteAsync(batch, Ct));
        Assert.Equal(0, await sink.WriteAsync(batch, Ct)); // the writer's retry
        Assert.Equal(["after the drop"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages\""));
        Assert.Equal(0, await _database.CountAsync("rejects"));
    }

    [Fact]
    public async Task Tables_of_an_earlier_version_without_partitions_keep_working_and_the_retention_deletes_from_them_in_chunks()
    {
        // The schema as it was before partitions: identity ids, plain tables.
        await using (var legacy = _database.DataSource.CreateCommand($"""
            CREATE TABLE "{_database.Prefix}messages" (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_at timestamptz NOT NULL, source text NOT NULL,
                peer text NOT NULL, facility smallint, severity smallint, "timestamp" timestamptz, hostname text, app_name text,
                proc_id text, msg_id text, structured_data text, message text NOT NULL);
            CREATE TABLE "{_database.Prefix}rejects" (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_at timestamptz NOT NULL, source text NOT NULL,
                peer text NOT NULL, reason text NOT NULL, detail text, raw bytea NOT NULL);
            CREATE TABLE "{_database.Prefix}batches" (id uuid PRIMARY KEY, refused integer NOT NULL, committed_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO "{_database.Prefix}messages" (received_at, source, peer, message)
                SELECT '2026-10-01Z'::timestamptz + n * interval '1 minute', 'tcp', '127.0.0.1:9', 'old ' || n FROM generate_series(1, 25) n;
            """))
        {
            await legacy.ExecuteNonQueryAsync(Ct);
        }

        // spillway query reads the tables of before, as they are, before any serve of now has opened them.
        await using (var reader = new PostgresMessageReader(
            new PostgresSinkOptions { ConnectionString = _database.ConnectionString, TablePrefix = _database.Prefix }, _database.DataSource))
        {
            var before = await reader.ReadAsync(new MessageQuery { Limit = 1 }, Ct);
            Assert.Equal(("old 25", null), Assert.Single(before.Select(r => (r.Message, r.Client))));
            Assert.Empty(await reader.ReadAsync(new MessageQuery { Client = "key-0" }, Ct));
        }

        var logger = new FakeLogger<PostgresSink>();
        await using var sink = new PostgresSink(new PostgresSinkOptions
        {
            ConnectionString = _database.ConnectionString, TablePrefix = _database.Prefix, Retention = TimeSpan.FromDays(30), RetentionChunkRows = 10,
        }, _database.DataSource, logger, _time);
        await sink.OpenAsync(Ct);
        Assert.False(sink.Partitioned);
        Assert.Equal(2, logger.Collector.GetSnapshot().Count(r => r.Id.Id == EventIds.PostgresUnpartitioned));

        for (var i = 0; i < 3; i++)
        {
            var message = Message(Now, $"new {i}");
            message.Client = $"key-{i}"; // into the client column the open added to the table of before
            await sink.WriteAsync(TestItems.BatchOf(message), Ct); // a full chunk each time, until all 25 are gone
        }

        Assert.Equal(["new 0", "new 1", "new 2"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages\" ORDER BY id"));
        Assert.Equal(["key-0", "key-1", "key-2"], await _database.ColumnAsync<string>("SELECT client FROM \"{p}messages\" ORDER BY id"));
        Assert.Equal(0L, await _database.CountAsync("rejects", "client IS NOT NULL")); // fails with "no such column" unless it was added
        Assert.Equal(25, sink.Expired);
        Assert.Empty(await PartitionsAsync("messages"));
    }

    [Fact]
    public async Task A_table_of_an_earlier_version_converts_as_the_docs_say()
    {
        var p = _database.Prefix;
        await ExecuteAsync($"""
            CREATE TABLE "{p}messages" (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_at timestamptz NOT NULL, source text NOT NULL,
                peer text NOT NULL, facility smallint, severity smallint, "timestamp" timestamptz, hostname text, app_name text,
                proc_id text, msg_id text, structured_data text, message text NOT NULL);
            INSERT INTO "{p}messages" (received_at, source, peer, message) VALUES ('2026-11-01 10:00Z', 'tcp', '127.0.0.1:9', 'from before');
            ALTER TABLE "{p}messages" RENAME TO "{p}messages_old";
            """);

        // The service makes the partitioned table beside the renamed one (whose identity sequence keeps its name).
        await using var sink = Sink(TimeSpan.Zero);
        await sink.OpenAsync(Ct);
        Assert.True(sink.Partitioned);
        await ExecuteAsync($"""
            CREATE TABLE "{p}messages_p20261101" PARTITION OF "{p}messages" FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-02 00:00:00+00');
            INSERT INTO "{p}messages" SELECT * FROM "{p}messages_old";
            SELECT setval('"{p}messages_ids"', (SELECT max(id) FROM "{p}messages"));
            DROP TABLE "{p}messages_old";
            """);

        await sink.WriteAsync(TestItems.BatchOf(Message(Now, "after")), Ct);
        Assert.Equal([(1L, "from before"), (2L, "after")],
            (await _database.ColumnAsync<string[]>("SELECT ARRAY[id::text, message] FROM \"{p}messages\" ORDER BY id"))
            .Select(row => (long.Parse(row[0], System.Globalization.CultureInfo.InvariantCulture), row[1])));
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = _database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private PostgresSink Sink(TimeSpan retention) => new(
        new PostgresSinkOptions { ConnectionString = _database.ConnectionString, TablePrefix = _database.Prefix, Retention = retention },
        _database.DataSource, NullLogger<PostgresSink>.Instance, _time);

    /// <summary>The partitions of a table as pg_inherits has them, without the prefix, sorted.</summary>
    private async Task<List<string>> PartitionsAsync(string table) =>
        [.. (await _database.ColumnAsync<string>($"""
            SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass('"{_database.Prefix}{table}"') ORDER BY 1
            """)).Select(name => name[_database.Prefix.Length..])];

    private static Message Message(DateTimeOffset at, string text) => new(at, Transport.Tcp, "127.0.0.1:9", text, text.Length);

    private static Reject Reject(DateTimeOffset at) => new(at, Transport.Tcp, "127.0.0.1:7", RejectReason.InvalidUtf8, [0xff], null);
}
