using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Sinks.Sqlite.Tests;

/// <summary>The sink and its file: deleted or replaced under it, and damaged before the start.</summary>
public sealed class SqliteFileTests : IDisposable
{
    private static readonly DateTimeOffset At = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly TempDatabase _database = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _database.Dispose();

    private static Batch BatchOf(params string[] texts)
    {
        var batch = new Batch { Id = Guid.CreateVersion7() };
        foreach (var text in texts)
        {
            batch.Add(new Message(At, Transport.Tcp, "127.0.0.1:9", text, text.Length));
        }

        return batch;
    }

    private SqliteSink Sink(string? path = null, bool allowDamaged = false) =>
        new(new SqliteSinkOptions { Path = path ?? _database.Path, AllowDamaged = allowDamaged }, NullLogger<SqliteSink>.Instance);

    [Fact]
    public async Task A_database_deleted_under_the_sink_is_made_anew_at_the_path_and_the_batch_written_there()
    {
        await using var sink = Sink();
        await sink.OpenAsync(Ct);
        await sink.WriteAsync(BatchOf("before"), Ct);
        foreach (var file in Directory.EnumerateFiles(_database.Directory, "test.db*"))
        {
            File.Delete(file);
        }

        await sink.WriteAsync(BatchOf("after 1", "after 2"), Ct);
        await sink.WriteAsync(BatchOf("after 3"), Ct);

        Assert.Equal(1, sink.Replaced);
        Assert.Equal(["after 1", "after 2", "after 3"], _database.Column<string>("SELECT message FROM messages ORDER BY id"));
    }

    [Fact]
    public async Task A_database_replaced_by_another_file_under_the_sink_takes_the_batch_once()
    {
        var other = Path.Combine(_database.Directory, "other.db");
        await using (var sink = Sink(other))
        {
            await sink.OpenAsync(Ct);
            await sink.WriteAsync(BatchOf("already in the copy"), Ct);
        }

        await using (var sink = Sink())
        {
            await sink.OpenAsync(Ct);
            await sink.WriteAsync(BatchOf("into the first file"), Ct);
            File.Move(other, _database.Path, overwrite: true); // as `mv other.db test.db` does
            var batch = BatchOf("after the move");
            await sink.WriteAsync(batch, Ct);
            await sink.WriteAsync(batch, Ct); // written again (its answer lost): the new file's ledger has it

            Assert.Equal(1, sink.Replaced);
        }

        Assert.Equal(["already in the copy", "after the move"], _database.Column<string>("SELECT message FROM messages ORDER BY id"));
    }

    [Fact]
    public async Task A_database_that_fails_quick_check_is_refused_at_start_unless_allowed()
    {
        await using (var sink = Sink())
        {
            await sink.OpenAsync(Ct);
            for (var i = 0; i < 20; i++)
            {
                await sink.WriteAsync(BatchOf([.. Enumerable.Range(0, 100).Select(j => $"message {i} {j} {new string('x', 200)}")]), Ct);
            }
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using (var file = new FileStream(_database.Path, FileMode.Open, FileAccess.ReadWrite))
        {
            // Pages past the schema's, garbage: a table's b-tree no longer reads.
            var pageSize = 4096;
            file.Position = pageSize * (file.Length / pageSize / 2);
            file.Write(Enumerable.Repeat((byte)0x5A, pageSize * 4).ToArray());
        }

        await using (var refusing = Sink())
        {
            var error = await Assert.ThrowsAsync<SinkUnavailableException>(() => refusing.OpenAsync(Ct).AsTask());
            Assert.Contains("fails PRAGMA quick_check", error.Message, StringComparison.Ordinal);
            Assert.Contains("--sqlite-allow-damaged", error.Message, StringComparison.Ordinal);
        }

        await using var allowing = Sink(allowDamaged: true);
        await allowing.OpenAsync(Ct);
    }
}
