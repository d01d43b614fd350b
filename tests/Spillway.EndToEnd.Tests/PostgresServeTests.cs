using Npgsql;
using Spillway.Bench;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary><c>serve --postgres</c> as a process, with the database taken away in the middle of a burst.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresServeTests
{
    private const int Messages = 200_000;

    [Fact]
    public async Task A_database_outage_in_the_middle_of_a_burst_ends_with_every_message_stored_once()
    {
        var connectionString = PostgresServer.ConnectionString();
        var prefix = $"e{Guid.NewGuid():N}"[..12] + "_";
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        using var workspace = new Workspace();
        try
        {
            await using var serve = ServeTests.StartServe(workspace, "--postgres", connectionString, "--postgres-table-prefix", prefix);
            var endpoint = await serve.ListeningAsync();
            await using var send = SpillwayProcess.StartBench(workspace.Directory,
                ["send", "--tcp", endpoint.ToString(), "-n", $"{Messages}", "--connections", "20"]);

            await Eventually.Until(() => Count(dataSource, $"SELECT count(*) FROM \"{prefix}messages\"") >= 20_000, "the first rows");
            await PostgresServer.StopAsync();
            try
            {
                await Eventually.Until(() => serve.Error.Contains("retrying in", StringComparison.Ordinal), "the writers to notice");

                // The outage lasts a few seconds: the buffer fills and TCP pushes back on the senders meanwhile.
                await Task.Delay(TimeSpan.FromSeconds(3), TimeProvider.System, TestContext.Current.CancellationToken);
            }
            finally
            {
                await PostgresServer.StartAsync();
                dataSource.Clear(); // the test's own pooled connections died with the server
            }

            Assert.Equal(0, await send.WaitForExitAsync(TimeSpan.FromMinutes(2)));
            serve.Signal(SpillwayProcess.Sigterm);
            Assert.Equal(0, await serve.WaitForExitAsync(TimeSpan.FromMinutes(2)));

            Assert.Equal(new SpillwayProcess.Summary(Messages, Messages, 0, 0), serve.ReadSummary());
            Assert.Equal(Messages, Count(dataSource, $"SELECT count(*) FROM \"{prefix}messages\""));
            var distinct = new HashSet<long>();
            await using (var command = dataSource.CreateCommand($"SELECT message FROM \"{prefix}messages\""))
            await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
            {
                while (await reader.ReadAsync(TestContext.Current.CancellationToken))
                {
                    Assert.True(MessageGenerator.TryParse(reader.GetString(0), out var seq));
                    Assert.True(distinct.Add(seq), $"seq {seq} stored twice");
                }
            }

            Assert.Equal(Messages, distinct.Count);
        }
        finally
        {
            await using var drop = dataSource.CreateCommand($"DROP TABLE IF EXISTS \"{prefix}messages\", \"{prefix}rejects\", \"{prefix}batches\"");
            await drop.ExecuteNonQueryAsync(CancellationToken.None); // clean up even when the test was cancelled
        }
    }

    private static long Count(NpgsqlDataSource dataSource, string sql)
    {
        try
        {
            using var command = dataSource.CreateCommand(sql);
            return (long)command.ExecuteScalar()!;
        }
        catch (NpgsqlException)
        {
            return 0; // the tables are not there yet, or the server is away
        }
    }
}
