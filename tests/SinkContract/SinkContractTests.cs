using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Sinks;

namespace Spillway.Testing;

/// <summary>
/// What every sink must do, written once and run against each sink by a subclass that says how to make a fresh
/// database and how to read it back.
/// </summary>
public abstract class SinkContractTests
{
    private static readonly DateTimeOffset At = new DateTimeOffset(2026, 11, 25, 1, 2, 3, TimeSpan.Zero).AddTicks(4560);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A sink on a database of this test's own (a fresh file, schema or table).</summary>
    protected ISink CreateSink() => CreateSink(TimeSpan.Zero, TimeProvider.System, Sinks.Retention.DefaultChunkRows);

    /// <summary>A sink on this test's database that keeps rows for <paramref name="retention"/> by <paramref name="time"/>.</summary>
    protected ISink CreateSink(TimeSpan retention, TimeProvider time, int chunkRows) => CreateSink(retention, time, chunkRows, MessageIndex.Default);

    /// <summary>A sink on this test's database with these indexes on its messages table.</summary>
    protected abstract ISink CreateSink(TimeSpan retention, TimeProvider time, int chunkRows, MessageIndexes indexes);

    /// <summary>The names of the indexes on this test's messages table, without the prefix and the primary key's, sorted.</summary>
    protected abstract Task<IReadOnlyList<string>> IndexNamesAsync();

    protected abstract Task<IReadOnlyList<StoredMessage>> ReadMessagesAsync();

    /// <summary>What <c>spillway query</c> and <c>tail</c> read this test's database with.</summary>
    protected abstract IMessageReader CreateReader();

    protected abstract Task<IReadOnlyList<StoredReject>> ReadRejectsAsync();

    [Fact]
    public async Task Open_creates_the_schema_and_reopening_keeps_what_was_stored()
    {
        await using (var sink = CreateSink())
        {
            await sink.OpenAsync(Ct);
            await sink.WriteAsync(BatchOf(Raw("first")), Ct);
        }

        await using (var sink = CreateSink())
        {
            await sink.OpenAsync(Ct);
            await sink.WriteAsync(BatchOf(Raw("second")), Ct);
        }

        Assert.Equal(["first", "second"], (await ReadMessagesAsync()).Select(m => m.Message));
    }

    [Fact]
    public async Task Every_column_of_a_message_round_trips()
    {
        var syslog = new Message(At, Transport.Udp, "10.1.2.3:514", "app said \"hi\" ✓ 𝄞", 99)
        {
            Facility = 4, Severity = 2, Timestamp = At.AddMinutes(-1), Hostname = "host-1", AppName = "app", ProcId = "1234",
            MsgId = "ID47", StructuredData = "[exampleSDID@32473 iut=\"3\"]",
        };
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(BatchOf(syslog, Raw("plain")), Ct);

        var rows = await ReadMessagesAsync();
        Assert.Equal(2, rows.Count);
        Assert.Equal(
            new StoredMessage(At, "udp", "10.1.2.3:514", 4, 2, At.AddMinutes(-1), "host-1", "app", "1234", "ID47",
                "[exampleSDID@32473 iut=\"3\"]", "app said \"hi\" ✓ 𝄞"),
            rows[0]);
        Assert.Equal(new StoredMessage(At, "tcp", "127.0.0.1:9", null, null, null, null, null, null, null, null, "plain"), rows[1]);
    }

    [Fact]
    public async Task Empty_text_is_stored_as_empty_text_not_as_null()
    {
        var empty = new Message(At, Transport.Tcp, "127.0.0.1:9", ""u8, 4) { Hostname = "", AppName = "" };
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(BatchOf(empty), Ct);

        var row = Assert.Single(await ReadMessagesAsync());
        Assert.Equal("", row.Message);
        Assert.Equal("", row.Hostname);
        Assert.Equal("", row.AppName);
        Assert.Null(row.ProcId);
    }

    [Fact]
    public async Task Long_text_in_every_field_round_trips_whole()
    {
        // Longer than any buffer a sink starts with, and multi-byte, so encoding buffers must grow and sizes be in bytes.
        var text = string.Concat(Enumerable.Repeat("ü€𝄞-", 20_000));
        var big = new Message(At, Transport.Tcp, "127.0.0.1:9", text, text.Length) { Hostname = text, StructuredData = text };
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(BatchOf(big, Raw("after")), Ct);

        var rows = await ReadMessagesAsync();
        Assert.Equal([text, "after"], rows.Select(r => r.Message));
        Assert.Equal(text, rows[0].Hostname);
        Assert.Equal(text, rows[0].StructuredData);
    }

    [Fact]
    public async Task Every_column_of_a_reject_round_trips_with_its_bytes_exactly()
    {
        byte[] raw = [0x00, 0xFF, 0xC3, 0x28, (byte)'\n', 0x7F];
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(BatchOf(new Reject(At, Transport.Tcp, "127.0.0.1:7", RejectReason.InvalidUtf8, raw, "not UTF-8")), Ct);

        var reject = Assert.Single(await ReadRejectsAsync());
        Assert.Equal(new StoredReject(At, "tcp", "127.0.0.1:7", "invalid-utf8", "not UTF-8"), reject with { Raw = [] });
        Assert.Equal(raw, reject.Raw);
        Assert.Empty(await ReadMessagesAsync());
    }

    [Fact]
    public async Task Who_sent_a_message_or_a_reject_is_stored_and_null_when_nobody_said()
    {
        var keyed = Raw("over https with a key");
        keyed.Client = "billing-prod";
        var reject = new Reject(At, Transport.Tls, "10.0.0.7:50514", RejectReason.InvalidUtf8, [0xff], "not UTF-8")
        {
            Client = "CN=relay1.example.com,O=Example",
        };
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(BatchOf(keyed, Raw("plain"), reject), Ct);

        Assert.Equal(["billing-prod", null], (await ReadMessagesAsync()).Select(m => m.Client));
        Assert.Equal("CN=relay1.example.com,O=Example", Assert.Single(await ReadRejectsAsync()).Client);

        // Read back (spillway query): the column, and a filter on it.
        await using var reader = CreateReader();
        Assert.Equal(["billing-prod", null], (await reader.ReadAsync(new MessageQuery(), Ct)).Select(r => r.Client));
        Assert.Equal(["over https with a key"], (await reader.ReadAsync(new MessageQuery { Client = "billing-prod" }, Ct)).Select(r => r.Message));
        Assert.Empty(await reader.ReadAsync(new MessageQuery { Client = "billing" }, Ct)); // exactly, not a prefix
    }

    [Fact]
    public async Task Rows_are_stored_in_batch_order_across_many_batches()
    {
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        var batch = new Batch();
        for (var b = 0; b < 5; b++)
        {
            batch.Clear();
            for (var i = 0; i < 10_000; i++)
            {
                batch.Add(Raw($"{b}-{i:D5}"));
            }

            await sink.WriteAsync(batch, Ct);
        }

        var stored = (await ReadMessagesAsync()).Select(m => m.Message).ToList();
        Assert.Equal(50_000, stored.Count);
        Assert.Equal(stored.Order(StringComparer.Ordinal), stored);
    }

    [Fact]
    public async Task A_cancelled_write_stores_nothing_and_the_next_write_stores_the_batch_once()
    {
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        var batch = BatchOf(Raw("a"), Raw("b"));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sink.WriteAsync(batch, cancelled.Token).AsTask());
        Assert.Empty(await ReadMessagesAsync());

        await sink.WriteAsync(batch, Ct);
        Assert.Equal(["a", "b"], (await ReadMessagesAsync()).Select(m => m.Message));
    }

    [Fact]
    public async Task A_batch_written_again_is_stored_once_as_after_a_commit_whose_answer_was_lost()
    {
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        var batch = BatchOf(Raw("once"), new Reject(At, Transport.Tcp, "127.0.0.1:7", RejectReason.Truncated, [1, 2], null));
        batch.Id = Guid.CreateVersion7();
        Assert.Equal(0, await sink.WriteAsync(batch, Ct));
        Assert.Equal(0, await sink.WriteAsync(batch, Ct));

        var other = BatchOf(Raw("once"));
        other.Id = Guid.CreateVersion7();
        await sink.WriteAsync(other, Ct); // the same content under another id is another batch

        Assert.Equal(["once", "once"], (await ReadMessagesAsync()).Select(m => m.Message));
        Assert.Single(await ReadRejectsAsync());
    }

    [Fact]
    public async Task An_empty_batch_stores_nothing()
    {
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(new Batch(), Ct);
        Assert.Empty(await ReadMessagesAsync());
        Assert.Empty(await ReadRejectsAsync());
    }

    [Fact]
    public async Task Rows_received_before_the_retention_are_deleted_in_chunks_after_writes_and_newer_ones_kept()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(At.AddDays(100));
        var now = time.GetUtcNow();
        await using var sink = CreateSink(TimeSpan.FromDays(30), time, chunkRows: 10);
        await sink.OpenAsync(Ct);

        // 25 messages and a reject older than the retention, with 3 newer messages and a newer reject. The old messages
        // are of the day the cutoff falls in, so that a sink that drops a day whole (PostgreSQL) deletes them in chunks too.
        var old = Enumerable.Range(0, 25).Select(i => Received(now.AddDays(-30).AddMinutes(-1 - i), $"old {i}")).ToList();
        await sink.WriteAsync(BatchOf([.. old, Received(now.AddDays(-29), "new 0"), RejectAt(now.AddDays(-40)), RejectAt(now.AddDays(-1))]), Ct);
        Assert.Equal(15 + 1, (await ReadMessagesAsync()).Count); // a chunk of 10 went with the write
        Assert.Single(await ReadRejectsAsync());

        // While chunks are left behind, each write takes another, without waiting for the interval.
        await sink.WriteAsync(BatchOf(Received(now, "new 1")), Ct);
        await sink.WriteAsync(BatchOf(Received(now, "new 2")), Ct);
        Assert.Equal(["new 0", "new 1", "new 2"], (await ReadMessagesAsync()).Select(m => m.Message));

        // Caught up, the next sweep is due once the interval has passed: an old message stays until then.
        await sink.WriteAsync(BatchOf(Received(now.AddDays(-40), "late")), Ct);
        Assert.Equal(["new 0", "new 1", "new 2", "late"], (await ReadMessagesAsync()).Select(m => m.Message));
        time.Advance(Sinks.Retention.Interval);
        await sink.WriteAsync(BatchOf(Received(time.GetUtcNow(), "new 3")), Ct);
        Assert.Equal(["new 0", "new 1", "new 2", "new 3"], (await ReadMessagesAsync()).Select(m => m.Message));

        // Rows that age past the retention go at a sweep after that.
        time.Advance(TimeSpan.FromDays(1));
        await sink.WriteAsync(BatchOf(Received(time.GetUtcNow(), "new 4")), Ct);
        Assert.Equal(["new 1", "new 2", "new 3", "new 4"], (await ReadMessagesAsync()).Select(m => m.Message));
        Assert.Single(await ReadRejectsAsync()); // the newer reject, 2 days old
    }

    [Fact]
    public async Task The_ledger_forgets_a_batch_a_week_after_it_committed_and_not_before()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(At);
        await using var sink = CreateSink(TimeSpan.Zero, time, chunkRows: 10);
        await sink.OpenAsync(Ct);
        var first = BatchOf(Raw("first"));
        first.Id = Guid.CreateVersion7();
        await sink.WriteAsync(first, Ct);

        // Within the week a retry of the batch finds it in the ledger, and stores nothing twice.
        time.Advance(Sinks.Retention.LedgerAge - TimeSpan.FromSeconds(1));
        await sink.WriteAsync(BatchOf(Raw("sweeps")), Ct);
        await sink.WriteAsync(first, Ct);
        Assert.Equal(["first", "sweeps"], (await ReadMessagesAsync()).Select(m => m.Message));

        // Past it, a sweep prunes its entry, and the same id would be stored again.
        time.Advance(Sinks.Retention.Interval);
        await sink.WriteAsync(BatchOf(Raw("sweeps again")), Ct);
        await sink.WriteAsync(first, Ct);
        Assert.Equal(["first", "sweeps", "sweeps again", "first"], (await ReadMessagesAsync()).Select(m => m.Message));
    }

    [Fact]
    public async Task The_indexes_listed_are_made_those_not_are_dropped_and_a_retention_keeps_the_time_index()
    {
        await using (var sink = CreateSink(TimeSpan.Zero, TimeProvider.System, 10, MessageIndexes.Host | MessageIndexes.App | MessageIndexes.Severity))
        {
            await sink.OpenAsync(Ct);
        }

        Assert.Equal(["messages_app_name_id", "messages_hostname_id", "messages_severity_id"], await IndexNamesAsync());

        await using (var sink = CreateSink(TimeSpan.FromDays(36_500), TimeProvider.System, 10, MessageIndexes.None))
        {
            await sink.OpenAsync(Ct);
            await sink.WriteAsync(BatchOf(Raw("indexed")), Ct);
        }

        Assert.Equal(["messages_received_at"], await IndexNamesAsync());
        await using var reader = CreateReader();
        Assert.Single(await reader.ReadAsync(new MessageQuery { Since = At.AddMinutes(-1) }, Ct));
    }

    [Fact]
    public async Task Without_a_retention_every_row_is_kept()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(At.AddDays(10_000));
        await using var sink = CreateSink(TimeSpan.Zero, time, chunkRows: 10);
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(BatchOf(Raw("ancient"), RejectAt(At)), Ct);
        time.Advance(TimeSpan.FromDays(1));
        await sink.WriteAsync(BatchOf(Raw("ancient too")), Ct);
        Assert.Equal(2, (await ReadMessagesAsync()).Count);
        Assert.Single(await ReadRejectsAsync());
    }

    [Fact]
    public async Task Stored_messages_are_read_back_by_every_filter_newest_last_and_after_a_row()
    {
        await using var sink = CreateSink();
        await sink.OpenAsync(Ct);
        Message Syslog(int minute, string host, string app, int severity, string text) =>
            new(At.AddMinutes(minute), Transport.Udp, "10.0.0.1:514", text, text.Length) { Hostname = host, AppName = app, Severity = severity, Facility = 1 };
        await sink.WriteAsync(BatchOf(
            Syslog(0, "web1", "nginx", 6, "GET / 200"),
            Syslog(1, "web1", "nginx", 3, "upstream timed out"),
            Syslog(2, "db1", "postgres", 4, "checkpoints are occurring too frequently"),
            Syslog(3, "web2", "nginx", 2, "worker crashed"),
            Raw("plain, over tcp")), Ct);
        await using var reader = CreateReader();

        async Task<string[]> Read(MessageQuery query) => [.. (await reader.ReadAsync(query, Ct)).Select(r => r.Message)];

        Assert.Equal(5, (await Read(new MessageQuery())).Length);
        Assert.Equal(["upstream timed out", "worker crashed"], await Read(new MessageQuery { App = "nginx", Severity = 3 }));
        Assert.Equal(["GET / 200", "upstream timed out"], await Read(new MessageQuery { Host = "web1" }));
        Assert.Equal(["plain, over tcp"], await Read(new MessageQuery { Source = "tcp" }));
        Assert.Equal(["checkpoints are occurring too frequently"], await Read(new MessageQuery { Grep = "too freq" }));
        Assert.Equal(["upstream timed out", "checkpoints are occurring too frequently"],
            await Read(new MessageQuery { Since = At.AddMinutes(1), Until = At.AddMinutes(3) }));
        Assert.Equal(["worker crashed", "plain, over tcp"], await Read(new MessageQuery { Limit = 2 })); // the newest, oldest first
        Assert.Empty(await Read(new MessageQuery { Grep = "'; DROP TABLE messages; --" }));

        var all = await reader.ReadAsync(new MessageQuery(), Ct);
        Assert.Equal(["worker crashed", "plain, over tcp"], await Read(new MessageQuery { AfterId = all[2].Id }));
        Assert.Equal(["checkpoints are occurring too frequently"], await Read(new MessageQuery { AfterId = all[1].Id, Limit = 1 }));
        var first = all[0];
        Assert.Equal((At, "udp", "10.0.0.1:514", 1, 6, "web1", "nginx"),
            (first.ReceivedAt, first.Source, first.Peer, first.Facility, first.Severity, first.Hostname, first.AppName));
    }

    private static Message Received(DateTimeOffset at, string text) => new(at, Transport.Tcp, "127.0.0.1:9", text, text.Length);

    private static Reject RejectAt(DateTimeOffset at) => new(at, Transport.Tcp, "127.0.0.1:7", RejectReason.InvalidUtf8, [0xff], "not UTF-8");

    protected static Message Raw(string text) => new(At, Transport.Tcp, "127.0.0.1:9", text, text.Length);

    protected static Batch BatchOf(params IngestItem[] items) => TestItems.BatchOf(items);

    public sealed record StoredMessage(
        DateTimeOffset ReceivedAt, string Source, string Peer, int? Facility, int? Severity, DateTimeOffset? Timestamp, string? Hostname,
        string? AppName, string? ProcId, string? MsgId, string? StructuredData, string Message)
    {
        /// <summary>The API key's name or the client certificate's subject; null from a plain listener.</summary>
        public string? Client { get; init; }
    }

    public sealed record StoredReject(DateTimeOffset ReceivedAt, string Source, string Peer, string Reason, string? Detail)
    {
        public byte[] Raw { get; init; } = [];

        public string? Client { get; init; }
    }
}
