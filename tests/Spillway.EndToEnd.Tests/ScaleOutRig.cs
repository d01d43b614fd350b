using System.Net;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Npgsql;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// Edges and writers as processes on the test cluster and PostgreSQL, on a stream and tables of the test's own, which go
/// with it. Every node is given a short ack wait, so that a batch held by a killed writer goes to another within seconds.
/// </summary>
internal sealed class ScaleOutRig : IAsyncDisposable
{
    private readonly string _connectionString;
    private readonly string _prefix = $"s{Guid.NewGuid():N}"[..12] + "_";
    private readonly string _stream = NatsCluster.StreamName("e2e");
    private readonly string[] _extra;
    private readonly NpgsqlDataSource _dataSource;
    private readonly NatsConnection _nats;

    private ScaleOutRig(string connectionString, string[] extra)
    {
        _connectionString = connectionString;
        _extra = extra;
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _nats = new NatsConnection(new NatsOpts { Url = NatsCluster.Url() });
    }

    public List<Edge> Edges { get; } = [];

    public List<Writer> Writers { get; } = [];

    public static async Task<ScaleOutRig> StartAsync(int edges, int writers, params string[] extra)
    {
        var rig = new ScaleOutRig(PostgresServer.ConnectionString(), extra);
        try
        {
            for (var i = 0; i < edges; i++)
            {
                rig.Edges.Add(await rig.StartEdgeAsync(new Workspace()));
            }

            for (var i = 0; i < writers; i++)
            {
                await rig.AddWriterAsync();
            }
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }

        return rig;
    }

    public async Task AddWriterAsync() => Writers.Add(await StartWriterAsync());

    public async Task RestartWriterAsync(int index)
    {
        await Writers[index].Process.DisposeAsync();
        Writers[index] = await StartWriterAsync();
    }

    /// <summary>Starts the edge again on its spill log: what it had taken and not published is published now.</summary>
    public async Task RestartEdgeAsync(int index)
    {
        var workspace = Edges[index].Workspace;
        await Edges[index].Process.DisposeAsync();
        Edges[index] = await StartEdgeAsync(workspace);
    }

    /// <summary>
    /// Waits for every replica of the stream to be current again (a server started again has caught up). While the server
    /// rejoins, the cluster may not answer the question at all: that is "not yet" too.
    /// </summary>
    public Task WaitForReplicasAsync() => Eventually.ValueAsync(async () =>
        {
            try
            {
                var cluster = (await new NatsJSContext(_nats).GetStreamAsync(_stream, cancellationToken: TestContext.Current.CancellationToken)).Info.Cluster;
                return cluster?.Replicas?.Count(r => r.Current && !r.Offline) ?? 0;
            }
            catch (NatsException)
            {
                return 0;
            }
        },
        current => current == 2, "the stream's two other replicas to be current", TimeSpan.FromMinutes(1));

    public long Published() => Edges.Sum(e => (long)e.Metric("spillway_jetstream_published_total"));

    public void ClearPool() => _dataSource.Clear();

    public Task WaitForStoredAsync(long rows) =>
        Eventually.Until(() => Stored() >= rows, $"{rows} rows stored", TimeSpan.FromMinutes(1));

    public Task WaitForStoredMoreAsync(long rows, string what)
    {
        var from = Stored();
        return Eventually.Until(() => Stored() >= from + rows, what, TimeSpan.FromMinutes(2));
    }

    /// <summary>
    /// Stops the edges (each drains its spill log into the stream), waits for the writers to empty the stream, stops them,
    /// and checks every message against what its sender was told.
    /// </summary>
    public async Task AssertEachStoredOnceAsync(IReadOnlyList<ScaleOutLoad> loads)
    {
        foreach (var edge in Edges)
        {
            edge.Process.Signal(SpillwayProcess.Sigterm);
        }

        foreach (var edge in Edges)
        {
            Assert.True(await edge.Process.WaitForExitAsync(TimeSpan.FromMinutes(2)) == 0, edge.Process.Error);
        }

        // Done once the consumer has delivered every message and had each acknowledged, which a writer does only after its
        // database commit. (The stream's own count is not waited for: nats-server 2.9.10 was once seen to keep one message
        // of an R3 work queue after its ack, in a run after a server of the cluster had been killed and started again.)
        await Eventually.ValueAsync(async () =>
            {
                try
                {
                    var consumer = await new NatsJSContext(_nats).GetConsumerAsync(_stream, "spillway-writers", TestContext.Current.CancellationToken);
                    return (Pending: consumer.Info.NumPending, AckPending: consumer.Info.NumAckPending);
                }
                catch (NatsException)
                {
                    return (Pending: ulong.MaxValue, AckPending: long.MaxValue); // no answer yet (a leader being elected): not done
                }
            },
            s => s is { Pending: 0, AckPending: 0 }, "the writers to store and acknowledge every batch in the stream", TimeSpan.FromMinutes(2));
        foreach (var writer in Writers)
        {
            writer.Process.Signal(SpillwayProcess.Sigterm);
        }

        foreach (var writer in Writers)
        {
            Assert.True(await writer.Process.WaitForExitAsync(TimeSpan.FromMinutes(2)) == 0, writer.Process.Error);
        }

        var stored = new Dictionary<string, int>();
        await using (var command = _dataSource.CreateCommand($"SELECT message, count(*) FROM \"{_prefix}messages\" GROUP BY message"))
        await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                stored[reader.GetString(0)] = (int)reader.GetInt64(1);
            }
        }

        var sent = loads.SelectMany(l => l.Sent).ToDictionary();
        var strays = stored.Keys.Where(m => !sent.ContainsKey(m)).Take(5).ToList();
        Assert.True(strays.Count == 0, "stored and never sent: " + string.Join(", ", strays));
        var wrong = sent
            .Select(s => (Message: s.Key, Fate: s.Value, Times: stored.GetValueOrDefault(s.Key)))
            .Where(s => s.Fate switch
            {
                ScaleOutLoad.Fate.Owed => s.Times != 1,
                ScaleOutLoad.Fate.Refused => s.Times != 0,
                _ => s.Times > 1,
            })
            .ToList();
        Assert.True(wrong.Count == 0,
            $"{wrong.Count} of {sent.Count} messages stored the wrong number of times, such as " +
            string.Join(", ", wrong.Take(5).Select(w => $"{w.Message} ({w.Fate}) {w.Times} times")));
        await using var rejects = _dataSource.CreateCommand($"SELECT count(*) FROM \"{_prefix}rejects\"");
        Assert.Equal(0L, await rejects.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Edges.Select(e => e.Process).Concat(Writers.Select(w => w.Process)))
        {
            await node.DisposeAsync();
        }

        foreach (var edge in Edges)
        {
            edge.Workspace.Dispose();
        }

        try
        {
            await new NatsJSContext(_nats).DeleteStreamAsync(_stream, CancellationToken.None);
        }
        catch (Exception ex) when (ex is NatsException)
        {
            // Never made, or the cluster is away: test.sh's cluster goes at the end of the run anyway.
        }

        await _nats.DisposeAsync();
        await using (var drop = _dataSource.CreateCommand($"DROP TABLE IF EXISTS \"{_prefix}messages\", \"{_prefix}rejects\", \"{_prefix}batches\""))
        {
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
        }

        await _dataSource.DisposeAsync();
    }

    private long Stored()
    {
        try
        {
            using var command = _dataSource.CreateCommand($"SELECT count(*) FROM \"{_prefix}messages\"");
            return (long)command.ExecuteScalar()!;
        }
        catch (NpgsqlException)
        {
            return 0; // not made yet, or the server is away
        }
    }

    // Each stream's byte limit is reserved on every replica's store: a small one leaves room for the other tests' streams.
    private string[] Common(string role) =>
        ["serve", "--nats", NatsCluster.Url(), .. role == "all" ? Array.Empty<string>() : ["--role", role], "--nats-stream", _stream, "--nats-subject", "spillway." + _stream,
            "--nats-ack-wait", "5s", .. _extra.Contains("--nats-stream-max-bytes") ? [] : new[] { "--nats-stream-max-bytes", "256MiB" }, .. _extra];

    /// <summary>A node of both roles (the default with --nats): the edge and writers into the database in one process.</summary>
    public async Task<Edge> StartBothAsync()
    {
        var workspace = new Workspace();
        var process = SpillwayProcess.Start(workspace.Directory,
            [.. Common("all"), "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "127.0.0.1:0", "--sqlite", workspace.Database,
                "--postgres", _connectionString, "--postgres-table-prefix", _prefix]);
        var node = new Edge(process, workspace, await process.ListeningAsync("tcp"), await process.ListeningAsync("http"));
        Edges.Add(node);
        return node;
    }

    public Task WaitForStoredExactlyAsync(long rows) =>
        Eventually.Until(() => Stored() == rows, $"exactly {rows} rows stored", TimeSpan.FromMinutes(1));

    private async Task<Edge> StartEdgeAsync(Workspace workspace)
    {
        var process = SpillwayProcess.Start(workspace.Directory,
            [.. Common("edge"), "--listen-tcp", "127.0.0.1:0", "--listen-udp", "none", "--listen-http", "127.0.0.1:0", "--sqlite", workspace.Database]);
        return new Edge(process, workspace, await process.ListeningAsync("tcp"), await process.ListeningAsync("http"));
    }

    private async Task<Writer> StartWriterAsync()
    {
        var process = SpillwayProcess.Start(Path.GetTempPath(),
            [.. Common("writer"), "--postgres", _connectionString, "--postgres-table-prefix", _prefix, "--listen-http", "127.0.0.1:0"]);
        return new Writer(process, await process.ListeningAsync("admin"));
    }

    internal sealed record Edge(SpillwayProcess Process, Workspace Workspace, IPEndPoint Tcp, IPEndPoint Http)
    {
        public HashSet<string> JetStreamFamilies() => Families(Http);

        public double Metric(string name)
        {
            using var client = Client(Http);
            return Scrape.Sum(client, name);
        }

        public double PublishFailures(string reason)
        {
            using var client = Client(Http);
            return Scrape.Metrics(client)
                .Where(s => s.Name == "spillway_jetstream_publish_failures_total" && s.Labels.GetValueOrDefault("reason") == reason)
                .Sum(s => s.Value);
        }
    }

    internal sealed record Writer(SpillwayProcess Process, IPEndPoint Admin)
    {
        public HashSet<string> JetStreamFamilies() => Families(Admin);

        public double Taken()
        {
            using var client = Client(Admin);
            return Scrape.Sum(client, "spillway_jetstream_taken_total");
        }
    }

    private static HashSet<string> Families(IPEndPoint endpoint)
    {
        using var client = Client(endpoint);
        return Scrape.Metrics(client).Select(m => System.Text.RegularExpressions.Regex.Replace(m.Name, "_(bucket|sum|count)$", ""))
            .Where(n => n.StartsWith("spillway_jetstream_", StringComparison.Ordinal)).ToHashSet();
    }

    private static HttpClient Client(IPEndPoint endpoint) => new() { BaseAddress = new Uri($"http://{endpoint}/") };
}
