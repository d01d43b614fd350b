using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Sinks.PostgreSql.Tests;

public sealed class PostgresSinkTests : IAsyncLifetime
{
    private static readonly DateTimeOffset At = new(2026, 11, 25, 1, 2, 3, TimeSpan.Zero);
    private TestDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _database = TestDatabase.Create();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync() => await _database.DisposeAsync();

    private static Message Text(string text) => new(At, Transport.Tcp, "127.0.0.1:9", text, text.Length);

    [Fact]
    public async Task A_message_holding_NUL_goes_to_rejects_as_refused_by_db_and_the_rest_of_the_batch_is_stored()
    {
        await using var sink = _database.Sink();
        await sink.OpenAsync(Ct);
        var batch = new Batch { Id = Guid.CreateVersion7() };
        batch.Add(Text("before"));
        batch.Add(Text("nul \0 inside"));
        batch.Add(new Message(At, Transport.Udp, "127.0.0.1:9", "fine text", 9) { AppName = "app\0" });
        batch.Add(Text("after"));

        Assert.Equal(2, await sink.WriteAsync(batch, Ct));
        Assert.Equal(["before", "after"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages\" ORDER BY id"));
        Assert.Equal(["refused-by-db", "refused-by-db"], await _database.ColumnAsync<string>("SELECT reason FROM \"{p}rejects\" ORDER BY id"));
        Assert.Equal("nul \0 inside"u8.ToArray(), (await _database.ColumnAsync<byte[]>("SELECT raw FROM \"{p}rejects\" ORDER BY id"))[0]);
        Assert.All(await _database.ColumnAsync<string>("SELECT detail FROM \"{p}rejects\""),
            d => Assert.Contains("NUL", d, StringComparison.Ordinal));

        // Written again (its first COMMIT's answer lost): nothing doubles, and the refused count is the first one's.
        Assert.Equal(2, await sink.WriteAsync(batch, Ct));
        Assert.Equal(2, await _database.CountAsync("messages"));
    }

    [Fact]
    public async Task A_row_the_server_refuses_is_isolated_into_rejects_with_its_words_and_the_rest_is_stored_once()
    {
        await using var sink = _database.Sink();
        await sink.OpenAsync(Ct);
        await using (var constraint = _database.DataSource.CreateCommand(
            $"ALTER TABLE \"{_database.Prefix}messages\" ADD CONSTRAINT no_poison CHECK (message NOT LIKE 'poison%')"))
        {
            await constraint.ExecuteNonQueryAsync(Ct);
        }

        var batch = new Batch { Id = Guid.CreateVersion7() };
        foreach (var text in new[] { "a", "b", "poison 1", "c", "d", "e", "poison 2", "f" })
        {
            batch.Add(Text(text));
        }

        Assert.Equal(2, await sink.WriteAsync(batch, Ct));
        Assert.Equal(2, await sink.WriteAsync(batch, Ct)); // a retry of the whole batch finds every part already stored
        Assert.Equal(["a", "b", "c", "d", "e", "f"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages\" ORDER BY message"));
        var details = await _database.ColumnAsync<string>("SELECT detail FROM \"{p}rejects\" ORDER BY id");
        Assert.Equal(2, details.Count);
        Assert.All(details, d => Assert.Contains("no_poison", d, StringComparison.Ordinal));
        Assert.Equal(["poison 1", "poison 2"],
            (await _database.ColumnAsync<byte[]>("SELECT raw FROM \"{p}rejects\" ORDER BY id")).Select(System.Text.Encoding.UTF8.GetString));
    }

    [Fact]
    public async Task A_server_that_cannot_be_reached_fails_open_saying_where_it_looked()
    {
        await using var dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=spillway;Timeout=5");
        await using var sink = _database.Sink(dataSource);
        var error = await Assert.ThrowsAsync<SinkUnavailableException>(() => sink.OpenAsync(Ct).AsTask());
        Assert.StartsWith("cannot reach PostgreSQL at 127.0.0.1:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_refuses_fails_open_with_its_reason()
    {
        var builder = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Database = "no_such_database" };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        await using var sink = _database.Sink(dataSource);
        var error = await Assert.ThrowsAsync<SinkUnavailableException>(() => sink.OpenAsync(Ct).AsTask());
        Assert.Contains("refused: database \"no_such_database\" does not exist (SQLSTATE 3D000)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Killing_the_writers_connections_at_random_moments_loses_nothing_and_doubles_nothing()
    {
        const int Messages = 60_000;
        var builder = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { ApplicationName = $"w{_database.Prefix}" };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        await using var sink = _database.Sink(dataSource);
        await sink.OpenAsync(Ct);
        var (buffer, stats, run, writer) = StartWriter(sink, batchSize: 500);
        using var stopKilling = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var killing = Task.Run(async () =>
        {
            var random = new Random(7);
            var kills = 0;
            while (stats.Stored < Messages && kills < 200 && !stopKilling.IsCancellationRequested)
            {
                await using var kill = _database.DataSource.CreateCommand(
                    $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'w{_database.Prefix}'");
                kills += (int)(long)(await kill.ExecuteScalarAsync(Ct))!;
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1, 30)), TimeProvider.System, Ct);
            }

            return kills;
        }, Ct);

        try
        {
            for (var i = 0; i < Messages; i++)
            {
                await buffer.WriteAsync(Text($"m{i:D6}"), Ct).AsTask().WaitAsync(TestTimeouts.Wait, Ct);
            }

            buffer.Complete();
            await run.WaitAsync(TimeSpan.FromMinutes(2), Ct);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the writer stalled: {writer.State}, last error: {writer.LastError}, stored {stats.Stored}");
        }

        var kills = await killing.WaitAsync(TestTimeouts.Wait, Ct);

        Assert.True(kills > 0, "no connection was killed: the test tested nothing");
        Assert.Equal(Messages, await _database.CountAsync("messages"));
        Assert.Equal(Messages, (await _database.ColumnAsync<long>("SELECT count(DISTINCT message) FROM \"{p}messages\""))[0]);
        Assert.Equal(Messages, stats.Stored);
    }

    [Fact]
    public async Task Killing_the_connection_during_COMMIT_loses_nothing_and_doubles_nothing()
    {
        const int Messages = 3_000;
        var builder = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { ApplicationName = $"c{_database.Prefix}" };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        await using var sink = _database.Sink(dataSource);
        await sink.OpenAsync(Ct);

        // A deferred trigger on the ledger makes each COMMIT take a while, so that there is a COMMIT to kill.
        await using (var slow = _database.DataSource.CreateCommand($"""
            CREATE FUNCTION "{_database.Prefix}slow"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON "{_database.Prefix}batches"
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{_database.Prefix}slow"();
            """))
        {
            await slow.ExecuteNonQueryAsync(Ct);
        }

        var (buffer, stats, run, _) = StartWriter(sink, batchSize: 300);
        var killing = Task.Run(async () =>
        {
            var kills = 0;
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (kills < 4 && !deadline.IsCancellationRequested)
            {
                await using var kill = _database.DataSource.CreateCommand($"""
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE application_name = 'c{_database.Prefix}' AND state = 'active' AND query = 'COMMIT'
                    """);
                kills += (int)(long)(await kill.ExecuteScalarAsync(Ct))!;
                await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, Ct);
            }

            return kills;
        }, Ct);

        for (var i = 0; i < Messages; i++)
        {
            await buffer.WriteAsync(Text($"m{i:D6}"), Ct).AsTask().WaitAsync(TestTimeouts.Wait, Ct);
        }

        buffer.Complete();
        await run.WaitAsync(TimeSpan.FromMinutes(2), Ct);
        Assert.True(await killing.WaitAsync(TestTimeouts.Wait, Ct) > 0, "no COMMIT was killed: the test tested nothing");
        Assert.Equal(Messages, await _database.CountAsync("messages"));
        Assert.Equal(Messages, (await _database.ColumnAsync<long>("SELECT count(DISTINCT message) FROM \"{p}messages\""))[0]);
        Assert.Equal(Messages, stats.Stored);
        await using var dropFunction = _database.DataSource.CreateCommand($"DROP FUNCTION \"{_database.Prefix}slow\"() CASCADE");
        await dropFunction.ExecuteNonQueryAsync(Ct);
    }

    [Fact]
    public async Task A_server_stopped_and_restarted_while_messages_stream_in_ends_with_every_message_stored_once()
    {
        const int Messages = 200_000;
        await using var sink = _database.Sink();
        await sink.OpenAsync(Ct);
        var (buffer, stats, run, _) = StartWriter(sink, batchSize: 5_000);

        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < Messages; i++)
            {
                await buffer.WriteAsync(Text($"m{i:D6}"), Ct);
            }

            buffer.Complete();
        }, Ct);

        await Eventually.Until(() => stats.Stored >= 20_000, "the first rows");
        await PostgresServer.StopAsync();
        try
        {
            // While the server is away the writer retries and the buffer fills: the producer is held back, not failed.
            await Eventually.Until(() => buffer.Messages == buffer.Options.MaxMessages || producer.IsCompleted, "the buffer to fill");
            Assert.False(producer.IsFaulted);
        }
        finally
        {
            await PostgresServer.StartAsync();
        }

        await producer.WaitAsync(TimeSpan.FromMinutes(2), Ct);
        await run.WaitAsync(TimeSpan.FromMinutes(2), Ct);
        Assert.Equal(Messages, await _database.CountAsync("messages"));
        Assert.Equal(Messages, (await _database.ColumnAsync<long>("SELECT count(DISTINCT message) FROM \"{p}messages\""))[0]);
        Assert.Equal(Messages, stats.Stored);
    }

    [Fact]
    public async Task Tables_dropped_while_running_are_created_again_on_the_retry()
    {
        await using var sink = _database.Sink();
        await sink.OpenAsync(Ct);
        await using (var drop = _database.DataSource.CreateCommand($"DROP TABLE \"{_database.Prefix}messages\", \"{_database.Prefix}batches\""))
        {
            await drop.ExecuteNonQueryAsync(Ct);
        }

        var batch = new Batch { Id = Guid.CreateVersion7() };
        batch.Add(Text("after the drop"));
        await Assert.ThrowsAsync<PostgresException>(() => sink.WriteAsync(batch, Ct).AsTask());
        await sink.WriteAsync(batch, Ct); // what the writer's retry does
        Assert.Equal(["after the drop"], await _database.ColumnAsync<string>("SELECT message FROM \"{p}messages\""));
    }

    private static (IngestBuffer Buffer, IngestStats Stats, Task Run, BatchWriter Writer) StartWriter(PostgresSink sink, int batchSize)
    {
        var stats = new IngestStats();
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = 20_000 }, stats);
        var writer = new BatchWriter(buffer, sink,
            new BatchWriterOptions
            {
                BatchSize = batchSize, Linger = TimeSpan.FromMilliseconds(5), RetryInitialDelay = TimeSpan.FromMilliseconds(20),
                RetryMaxDelay = TimeSpan.FromMilliseconds(500),
            },
            stats, TimeProvider.System, NullLogger<BatchWriter>.Instance);
        return (buffer, stats, writer.RunAsync(TestContext.Current.CancellationToken), writer);
    }
}
