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

    [Fact]
    public async Task Two_nodes_on_one_database_store_every_message_once_even_when_one_is_forced_to_stop_with_its_burst_unstored()
    {
        // The simpler scale-out (docs/scale-out.md): plain nodes, each with its spill log, on one PostgreSQL. Batch ids are
        // UUIDv7 and the ledger is the database's, so nodes need nothing from each other.
        const int PerNode = 30_000;
        var connectionString = PostgresServer.ConnectionString();
        var prefix = $"n{Guid.NewGuid():N}"[..12] + "_";
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        using var first = new Workspace();
        using var second = new Workspace();
        string[] args = ["--postgres", connectionString, "--postgres-table-prefix", prefix];
        try
        {
            await using var one = ServeTests.StartServe(first, args);
            await using var two = ServeTests.StartServe(second, args);
            SpillwayProcess[] nodes = [one, two];
            var endpoints = new List<(System.Net.IPEndPoint Tcp, System.Net.IPEndPoint Http)>();
            foreach (var node in nodes)
            {
                endpoints.Add((await node.ListeningAsync("tcp"), await node.ListeningAsync("http")));
            }

            // The database goes away; each node takes its burst into its own spill log.
            await PostgresServer.StopAsync();
            try
            {
                for (var i = 0; i < nodes.Length; i++)
                {
                    await using var send = SpillwayProcess.StartBench((i == 0 ? first : second).Directory,
                        ["send", "--tcp", endpoints[i].Tcp.ToString(), "-n", $"{PerNode}", "--connections", "2"]);
                    Assert.Equal(0, await send.WaitForExitAsync());
                    using var client = new HttpClient { BaseAddress = new Uri($"http://{endpoints[i].Http}/") };
                    await Eventually.Until(() => Scrape.Sum(client, "spillway_messages_received_total") == PerNode, $"node {i + 1} to take its burst");
                }

                // The first node is stopped by force with nothing stored: its spill log is written out and kept (exit 3).
                one.Signal(SpillwayProcess.Sigterm);
                await Eventually.Until(() => one.Error.Contains("SIGTERM received", StringComparison.Ordinal), "the first signal to be taken");
                one.Signal(SpillwayProcess.Sigterm);
                Assert.Equal(3, await one.WaitForExitAsync());
            }
            finally
            {
                await PostgresServer.StartAsync();
                dataSource.Clear();
            }

            // Started again on its spill log, it stores what it held; the second stores its own meanwhile.
            await using var again = ServeTests.StartServe(first, args);
            await again.ListeningAsync("tcp");
            await Eventually.Until(() => Count(dataSource, $"SELECT count(*) FROM \"{prefix}messages\"") == 2 * PerNode, "both bursts stored",
                TimeSpan.FromMinutes(2));
            foreach (var node in new[] { again, two })
            {
                node.Signal(SpillwayProcess.Sigterm);
                Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromMinutes(2)));
            }

            Assert.Equal(PerNode, again.ReadSummary().Replayed);
            var times = new Dictionary<long, int>();
            await using (var command = dataSource.CreateCommand($"SELECT message FROM \"{prefix}messages\""))
            await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
            {
                while (await reader.ReadAsync(TestContext.Current.CancellationToken))
                {
                    Assert.True(MessageGenerator.TryParse(reader.GetString(0), out var seq));
                    times[seq] = times.GetValueOrDefault(seq) + 1;
                }
            }

            // Both senders numbered from 0: every number stored exactly twice, once from each node, and nothing else.
            Assert.Equal(PerNode, times.Count);
            Assert.All(times, t => Assert.True(t.Value == 2, $"seq {t.Key} stored {t.Value} times"));
        }
        finally
        {
            await using var drop = dataSource.CreateCommand($"DROP TABLE IF EXISTS \"{prefix}messages\", \"{prefix}rejects\", \"{prefix}batches\"");
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
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
