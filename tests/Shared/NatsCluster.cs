using System.Diagnostics;

namespace Spillway.Testing;

/// <summary>
/// The three-node NATS JetStream cluster that ./test.sh starts: where it is (SPILLWAY_TEST_NATS), and the means to stop
/// a node and start it again for the fault tests. Without the variable a test skips, except in CI (CI=true), where it
/// fails.
/// </summary>
internal static class NatsCluster
{
    /// <summary>The three servers' URLs, comma-separated, as <c>--nats</c> takes them.</summary>
    public static string Url()
    {
        var url = Environment.GetEnvironmentVariable("SPILLWAY_TEST_NATS");
        if (string.IsNullOrEmpty(url))
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
            {
                Assert.Fail("SPILLWAY_TEST_NATS is not set: run the tests through ./test.sh, which starts a NATS cluster");
            }

            Assert.Skip("SPILLWAY_TEST_NATS is not set: ./test.sh starts a three-node NATS cluster for these tests");
        }

        return url;
    }

    /// <summary>A stream name of the test's own, so that tests on the shared cluster never meet.</summary>
    public static string StreamName(string test) => $"T{Guid.NewGuid():N}"[..12].ToUpperInvariant() + "_" + test;

    /// <summary>Stops node <paramref name="node"/> (1 to 3) as a crash would, and waits for it to be gone.</summary>
    public static async Task KillAsync(int node)
    {
        var pid = int.Parse(await File.ReadAllTextAsync(PidFile(node), TestContext.Current.CancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.GetProcessById(pid);
        process.Kill();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TestTimeouts.Wait);
    }

    /// <summary>Starts node <paramref name="node"/> again from its configuration file (it rejoins the cluster and catches up).</summary>
    public static void Start(int node)
    {
        var server = Environment.GetEnvironmentVariable("SPILLWAY_TEST_NATS_SERVER") ?? "nats-server";
        // Not redirected: the server would hold the pipe open past the test. Its log goes to its file, as test.sh's does.
        var start = new ProcessStartInfo(server) { UseShellExecute = false };
        foreach (var argument in new[] { "-c", Path.Combine(Directory(), $"n{node}.conf"), "-l", Path.Combine(Directory(), $"n{node}.log") })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{server} did not start");
    }

    /// <summary>
    /// A lone nats-server without JetStream on a free loopback port, with <paramref name="arguments"/> (its user and password,
    /// say), for the tests of a start that must fail; killed when disposed.
    /// </summary>
    public static async Task<LoneServer> StartWithoutJetStreamAsync(params string[] arguments)
    {
        Url(); // skips or fails as the other tests do without the cluster
        var port = LoopbackPorts.Free();
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("SPILLWAY_TEST_NATS_SERVER") ?? "nats-server")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var argument in new[] { "-a", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        var server = new LoneServer($"nats://127.0.0.1:{port}", Process.Start(start) ?? throw new InvalidOperationException("nats-server did not start"));
        await Eventually.Until(() => LoopbackPorts.Accepts(port), "the lone nats-server to listen");
        return server;
    }

    /// <summary>A NATS URL on a loopback port that nothing listens on (it was free a moment ago).</summary>
    public static string UnreachableUrl() => $"nats://127.0.0.1:{LoopbackPorts.Free()}";

    /// <summary>A nats-server of a test's own.</summary>
    internal sealed class LoneServer(string url, Process process) : IAsyncDisposable
    {
        public string Url => url;

        public async ValueTask DisposeAsync()
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None);
            process.Dispose();
        }
    }

    private static string PidFile(int node) => Path.Combine(Directory(), $"n{node}.pid");

    private static string Directory()
    {
        var directory = Environment.GetEnvironmentVariable("SPILLWAY_TEST_NATS_DIR");
        Assert.False(string.IsNullOrEmpty(directory), "the NATS fault tests need SPILLWAY_TEST_NATS_DIR (./test.sh)");
        return directory!;
    }
}
