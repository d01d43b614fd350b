using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// The scale-out on NATS JetStream as processes (docs/scale-out.md): two edges and two writers on the three-node cluster
/// that ./test.sh starts and one PostgreSQL, under a steady stream of TCP and HTTP load to both edges, with one fault in
/// each run. In every run, each message answered 200, or sent on a TCP connection closed cleanly, is stored exactly once;
/// one answered 503 not at all; one whose sender saw its edge die at most once; and nothing else is stored.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ScaleOutTests
{
    public static TheoryData<string> Faults =>
        ["none", "a NATS server killed", "a writer killed and started again", "an edge killed and started again", "the database stopped",
            "a writer added"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Two_edges_and_two_writers_store_each_message_once_through_the_stream(string fault)
    {
        await using var rig = await ScaleOutRig.StartAsync(edges: 2, writers: 2);
        using var stop = new CancellationTokenSource();
        var loads = rig.Edges.Select((e, i) => new ScaleOutLoad($"e{i}", () => rig.Edges[i].Tcp, () => rig.Edges[i].Http)).ToList();
        var running = Task.WhenAll(loads.Select(l => l.RunAsync(stop.Token)));

        await rig.WaitForStoredAsync(5_000);
        switch (fault)
        {
            case "a NATS server killed":
                await NatsCluster.KillAsync(1);
                try
                {
                    await rig.WaitForStoredMoreAsync(5_000, "the stream to go on with two of its three servers");
                }
                finally
                {
                    NatsCluster.Start(1);
                }

                await rig.WaitForReplicasAsync();

                break;
            case "a writer killed and started again":
                rig.Writers[0].Process.Signal(SpillwayProcess.Sigkill);
                await rig.Writers[0].Process.WaitForExitAsync();
                await rig.WaitForStoredMoreAsync(5_000, "the other writer to go on");
                await rig.RestartWriterAsync(0);
                break;
            case "an edge killed and started again":
                rig.Edges[1].Process.Signal(SpillwayProcess.Sigkill);
                await rig.Edges[1].Process.WaitForExitAsync();
                await rig.RestartEdgeAsync(1);
                break;
            case "the database stopped":
                await PostgresServer.StopAsync();
                try
                {
                    await Eventually.Until(() => rig.Writers.All(w => w.Process.Error.Contains("retrying in", StringComparison.Ordinal)),
                        "the writers to notice");
                    var published = rig.Published();
                    await Eventually.Until(() => rig.Published() > published + 20, "the edges to publish on while the database is away");
                }
                finally
                {
                    await PostgresServer.StartAsync();
                    rig.ClearPool();
                }

                break;
            case "a writer added":
                await rig.AddWriterAsync();
                await Eventually.Until(() => rig.Writers[^1].Taken() > 0, "the new writer to take a share");
                break;
        }

        await rig.WaitForStoredMoreAsync(10_000, "the load to go on after the fault");
        if (fault == "none")
        {
            // Every JetStream series an edge and a writer serve is in the operator's list (each appears once it has a value).
            var edge = rig.Edges[0].JetStreamFamilies();
            var writer = rig.Writers[0].JetStreamFamilies();
            Assert.Contains("spillway_jetstream_published_total", edge);
            Assert.Contains("spillway_jetstream_publish_duration_seconds", edge);
            Assert.Contains("spillway_jetstream_taken_total", writer);
            Assert.Subset(ObservabilityTests.Documented(), edge.Concat(writer).ToHashSet());

            // spillway status shows each node's part.
            foreach (var (endpoint, role, row) in new[] { (rig.Edges[0].Http, "edge", "published"), (rig.Writers[0].Admin, "writer", "taken") })
            {
                await using var view = SpillwayProcess.Start(Path.GetTempPath(), ["status", "--url", $"http://{endpoint}/", "--once", "--interval", "100ms"]);
                Assert.True(await view.WaitForExitAsync() == 0, view.Error);
                var screen = string.Join('\n', view.OutputLines);
                Assert.Contains($"jetstream ({role})", screen, StringComparison.Ordinal);
                Assert.Contains(row, screen, StringComparison.Ordinal);
            }
        }

        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

        await rig.AssertEachStoredOnceAsync(loads);
        Assert.All(loads, l => Assert.True(l.Owed("tcp") > 500 && l.Owed("http") > 200,
            $"too little load to show anything: {l.Owed("tcp")} TCP and {l.Owed("http")} HTTP messages owed"));
    }

    [Fact]
    public async Task A_full_stream_makes_the_edges_spill_then_push_back_and_everything_taken_is_stored_once_when_writers_come()
    {
        // No writer at first: the stream (1 MiB) fills, the edges' spill logs (3 MiB each) fill behind it, and then HTTP is
        // answered 503 and TCP pushed back.
        await using var rig = await ScaleOutRig.StartAsync(edges: 2, writers: 0, "--nats-stream-max-bytes", "1MiB", "--spill-max-bytes", "3MiB");
        using var stop = new CancellationTokenSource();
        var loads = rig.Edges.Select((e, i) => new ScaleOutLoad($"e{i}", () => rig.Edges[i].Tcp, () => rig.Edges[i].Http)).ToList();
        var running = Task.WhenAll(loads.Select(l => l.RunAsync(stop.Token)));

        await Eventually.Until(() => rig.Edges.All(e => e.PublishFailures("full") > 0), "the stream to refuse publishes as full",
            TimeSpan.FromMinutes(1));
        await Eventually.Until(() => loads.All(l => l.Count(ScaleOutLoad.Fate.Refused) > 0), "each edge to answer 503, its spill log full",
            TimeSpan.FromMinutes(2));

        await rig.AddWriterAsync();
        await rig.AddWriterAsync();
        await rig.WaitForStoredMoreAsync(5_000, "the writers to empty the stream and the spill logs");
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

        await rig.AssertEachStoredOnceAsync(loads);
    }

    [Fact]
    public async Task A_node_of_both_roles_publishes_what_it_takes_and_stores_it_from_the_stream_once()
    {
        const int Messages = 20_000;
        await using var rig = await ScaleOutRig.StartAsync(edges: 0, writers: 0);
        var node = await rig.StartBothAsync();
        await using (var send = SpillwayProcess.StartBench(node.Workspace.Directory, ["send", "--tcp", node.Tcp.ToString(), "-n", $"{Messages}", "-c", "2"]))
        {
            Assert.Equal(0, await send.WaitForExitAsync());
        }

        using (var client = new HttpClient())
        using (var body = new StringContent("one\ntwo", System.Text.Encoding.UTF8, "text/plain"))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.PostAsync(new Uri($"http://{node.Http}/ingest"), body, TestContext.Current.CancellationToken)).StatusCode);
        }

        await rig.WaitForStoredExactlyAsync(Messages + 2);
        using (var client = new HttpClient())
        {
            using var health = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync(new Uri($"http://{node.Http}/health"), TestContext.Current.CancellationToken));
            Assert.Equal("all", health.RootElement.GetProperty("jetstream").GetProperty("role").GetString());
            Assert.Equal(4, health.RootElement.GetProperty("writers").GetArrayLength()); // two publishing, two storing (PostgreSQL's default)
        }

        node.Process.Signal(SpillwayProcess.Sigterm);
        Assert.True(await node.Process.WaitForExitAsync() == 0, node.Process.Error);
        Assert.Equal(new SpillwayProcess.Summary(Messages + 2, Messages + 2, 0, 0), node.Process.ReadSummary());
        Assert.Contains($"stream writers: taken={Messages + 2} stored={Messages + 2} rejected=0", node.Process.OutputLines);
    }
}
