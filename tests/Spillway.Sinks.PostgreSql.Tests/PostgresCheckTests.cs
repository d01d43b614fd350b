using Npgsql;

namespace Spillway.Sinks.PostgreSql.Tests;

/// <summary>check-config's database check against the real server: what it lets through and each right it names.</summary>
public sealed class PostgresCheckTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private readonly string _role = $"check_{Guid.NewGuid():N}"[..18];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _database = TestDatabase.Create();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _database.DisposeAsync();
        await using var dataSource = NpgsqlDataSource.Create(_database.ConnectionString);
        await using var drop = dataSource.CreateCommand($"DROP ROLE IF EXISTS {_role}");
        await drop.ExecuteNonQueryAsync();
    }

    private PostgresSinkOptions Options(string connectionString) => new() { ConnectionString = connectionString, TablePrefix = _database.Prefix };

    [Fact]
    public async Task A_user_with_every_right_passes_before_and_after_the_tables_exist_and_nothing_is_created()
    {
        var before = await PostgresCheck.CheckAsync(_database.DataSource, Options(_database.ConnectionString), Ct);
        Assert.Empty(before.Problems);
        Assert.Contains(before.Facts, f => f.Contains("3 of 3 tables created at the first start", StringComparison.Ordinal));
        await using (var exists = _database.DataSource.CreateCommand($"SELECT to_regclass('\"{_database.Prefix}messages\"') IS NULL"))
        {
            Assert.True((bool)(await exists.ExecuteScalarAsync(Ct))!, "the check created a table");
        }

        await using (var sink = _database.Sink())
        {
            await sink.OpenAsync(Ct);
        }

        var after = await PostgresCheck.CheckAsync(_database.DataSource, Options(_database.ConnectionString), Ct);
        Assert.Empty(after.Problems);
        Assert.Contains(after.Facts, f => f.Contains("tables present", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_user_lacking_rights_is_told_each_grant_it_needs()
    {
        await using (var sink = _database.Sink())
        {
            await sink.OpenAsync(Ct);
        }

        foreach (var sql in new[] { $"CREATE ROLE {_role} LOGIN", $"GRANT INSERT ON \"{_database.Prefix}messages\" TO {_role}" })
        {
            await using var command = _database.DataSource.CreateCommand(sql);
            await command.ExecuteNonQueryAsync(Ct);
        }

        var connectionString = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Username = _role, Pooling = false }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var report = await PostgresCheck.CheckAsync(dataSource, Options(connectionString), Ct);

        var p = _database.Prefix;
        Assert.Equal(
            [
                $"may not create tables in schema public: GRANT CREATE ON SCHEMA public TO {_role}",
                $"lacks INSERT on table public.{p}rejects: GRANT INSERT ON public.{p}rejects TO {_role}",
                $"lacks SELECT on table public.{p}batches: GRANT SELECT ON public.{p}batches TO {_role}",
                $"lacks INSERT on table public.{p}batches: GRANT INSERT ON public.{p}batches TO {_role}",
                $"lacks DELETE on table public.{p}batches: GRANT DELETE ON public.{p}batches TO {_role}",
                $"does not own table public.{p}messages, and cannot make its day partitions: ALTER TABLE public.{p}messages OWNER TO {_role}",
                $"does not own table public.{p}rejects, and cannot make its day partitions: ALTER TABLE public.{p}rejects OWNER TO {_role}",
            ],
            report.Problems.Select(problem => problem[(problem.IndexOf("the user ", StringComparison.Ordinal) + "the user ".Length)..]));
        Assert.Empty(report.Facts);

        // A retention deletes rows: it needs DELETE on both tables too.
        var withRetention = await PostgresCheck.CheckAsync(dataSource, Options(connectionString) with { Retention = TimeSpan.FromDays(30) }, Ct);
        Assert.Contains($"the user lacks DELETE on table public.{p}messages: GRANT DELETE ON public.{p}messages TO {_role}",
            withRetention.Problems.Select(problem => problem[(problem.IndexOf("the user ", StringComparison.Ordinal))..]));
        Assert.Contains($"the user lacks DELETE on table public.{p}rejects: GRANT DELETE ON public.{p}rejects TO {_role}",
            withRetention.Problems.Select(problem => problem[(problem.IndexOf("the user ", StringComparison.Ordinal))..]));
        Assert.DoesNotContain(report.Problems, problem => problem.Contains($"DELETE on table public.{p}messages", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_server_that_refuses_the_login_is_said_in_its_own_words()
    {
        var connectionString = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Database = "no_such_database" }.ConnectionString;
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var report = await PostgresCheck.CheckAsync(dataSource, Options(connectionString), Ct);
        var problem = Assert.Single(report.Problems);
        Assert.Contains("refused: database \"no_such_database\" does not exist (SQLSTATE 3D000)", problem, StringComparison.Ordinal);
    }
}
