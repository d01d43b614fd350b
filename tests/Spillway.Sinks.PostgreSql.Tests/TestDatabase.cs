using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Spillway.Sinks.PostgreSql.Tests;

/// <summary>
/// The PostgreSQL that ./test.sh starts, found through SPILLWAY_TEST_POSTGRES. Each test gets tables of its own (a
/// unique prefix), dropped at the end. Without the variable the tests skip, except in CI (CI=true), where they fail.
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

    public static TestDatabase Create()
    {
        var connectionString = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES");
        if (string.IsNullOrEmpty(connectionString))
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
            {
                Assert.Fail("SPILLWAY_TEST_POSTGRES is not set: run the tests through ./test.sh, which starts PostgreSQL");
            }

            Assert.Skip("SPILLWAY_TEST_POSTGRES is not set: ./test.sh starts a PostgreSQL for these tests");
        }

        return new TestDatabase(connectionString);
    }

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

    /// <summary>Stops the server at once (as a crash would), for the fault tests.</summary>
    public static Task StopServerAsync() => PgCtlAsync("-m", "immediate", "stop");

    public static Task StartServerAsync() => PgCtlAsync("-w", "-t", "60", "start");

    public async ValueTask DisposeAsync()
    {
        await using (var command = DataSource.CreateCommand(
            $"DROP TABLE IF EXISTS \"{Prefix}messages\", \"{Prefix}rejects\", \"{Prefix}batches\""))
        {
            await command.ExecuteNonQueryAsync();
        }

        await DataSource.DisposeAsync();
    }

    private static async Task PgCtlAsync(params string[] args)
    {
        var pgCtl = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES_CTL");
        var data = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES_DATA");
        Assert.False(string.IsNullOrEmpty(pgCtl) || string.IsNullOrEmpty(data), "the fault tests need SPILLWAY_TEST_POSTGRES_CTL and _DATA (./test.sh)");
        var user = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES_AS");
        // Not redirected: the server pg_ctl starts would inherit the pipe and hold it open, and waiting for its end would hang.
        var start = new ProcessStartInfo(string.IsNullOrEmpty(user) ? pgCtl! : "runuser") { UseShellExecute = false };
        if (!string.IsNullOrEmpty(user))
        {
            foreach (var a in new[] { "-u", user, "--", pgCtl! })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var a in args.Prepend(data!).Prepend("-D").Append("-l").Append(Path.Combine(Path.GetDirectoryName(data)!, "server.log")))
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(0, process.ExitCode);
    }
}
