using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// serve's resident memory with its defaults (the spill log on), asserted as bounds, never as timings: once it listens,
/// and at its peak through a burst of 200,000 messages over four connections.
/// </summary>
/// <remarks>
/// The release build (Native AOT, what the package carries; ./test.sh runs this suite on it too) is held to issue 19's
/// figures: idle at most 45 MiB, the burst's peak at most 100 MiB (measured here: 37 MiB idle, 70-77 MiB at the peak). The JIT-compiled build the tests are built with carries the JIT compiler and compiles its code as it runs,
/// so it has bounds of its own: above what it measured (idle 68-70 MiB, the burst's peak 110-115 MiB) and below what
/// the build before this bound took (143-150 MiB, with the spill log's memory bound at 64 MiB), so that giving back what
/// was won fails here too (docs/performance.md, "Memory").
/// </remarks>
public sealed class MemoryTests
{
    private const long Mib = 1 << 20;
    private const int Burst = 200_000;

    private static readonly (long Idle, long BurstPeak) Bounds = SpillwayProcess.Published is null ? (80 * Mib, 128 * Mib) : (45 * Mib, 100 * Mib);

    [Fact]
    public async Task An_idle_serve_and_its_peak_through_a_burst_of_200000_stay_within_their_bounds()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");
        await serve.ListeningAsync("http");

        var idle = serve.ResidentBytes();
        Assert.True(idle <= Bounds.Idle, $"an idle serve holds {idle / Mib} MiB, over its bound of {Bounds.Idle / Mib} MiB");

        await using (var send = SpillwayProcess.StartBench(workspace.Directory, ["send", "--tcp", tcp.ToString(), "-n", $"{Burst}", "-c", "4"]))
        {
            Assert.Equal(0, await send.WaitForExitAsync());
        }

        await Eventually.Until(() => workspace.Count("messages") == Burst, $"{Burst} rows stored");
        var peak = serve.PeakResidentBytes();
        Assert.True(peak <= Bounds.BurstPeak,
            $"serve's peak through a burst of {Burst:N0} was {peak / Mib} MiB, over its bound of {Bounds.BurstPeak / Mib} MiB (idle {idle / Mib} MiB)");

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(new SpillwayProcess.Summary(Burst, Burst, 0, 0), serve.ReadSummary());
    }
}
