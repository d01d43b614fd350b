using System.Net;
using Spillway.Bench;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// The built <c>spillway</c> CLI (or the load tools' <c>spillway-bench</c>) run as a child process, its output captured
/// line by line: the load tools' <see cref="ChildProcess"/>, with the tests' timeouts and assertions.
/// </summary>
internal sealed class SpillwayProcess : IAsyncDisposable
{
    public const int Sigterm = ChildProcess.Sigterm;
    public const int Sigint = ChildProcess.Sigint;
    public const int Sigkill = 9;
    public const int Sighup = 1;

    private readonly ChildProcess _child;

    private SpillwayProcess(ChildProcess child) => _child = child;

    public int Id => _child.Id;

    public bool HasExited => _child.HasExited;

    public IReadOnlyList<string> OutputLines => _child.OutputLines;

    public string Error => _child.Error;

    /// <summary>
    /// <c>spillway</c> with <paramref name="args"/>: the build beside the tests, or the executable named by
    /// <c>SPILLWAY_TEST_SPILLWAY</c> (./test.sh runs the suite again on the published, trimmed build the package carries).
    /// </summary>
    public static SpillwayProcess Start(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        Start(Published ?? "spillway.dll", workingDirectory, args, environment);

    /// <summary>The release build under test instead of the one beside the tests (<c>SPILLWAY_TEST_SPILLWAY</c>), or null.</summary>
    public static string? Published => Environment.GetEnvironmentVariable("SPILLWAY_TEST_SPILLWAY") is { Length: > 0 } path ? path : null;

    /// <summary><c>spillway-bench</c> with <paramref name="args"/>: the benchmark, or <c>send</c>.</summary>
    public static SpillwayProcess StartBench(string workingDirectory, IEnumerable<string> args) => Start("spillway-bench.dll", workingDirectory, args, null);

    private static SpillwayProcess Start(string program, string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var start = ChildProcess.StartInfo(Path.Combine(AppContext.BaseDirectory, program));
        start.WorkingDirectory = workingDirectory;
        start.RedirectStandardInput = true;
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return new SpillwayProcess(ChildProcess.Start(start));
    }

    /// <summary>The endpoint of the <c>listening TRANSPORT HOST:PORT</c> line, once serve has printed it.</summary>
    public Task<IPEndPoint> ListeningAsync(string transport = "tcp") =>
        _child.ListeningAsync(transport, TestTimeouts.Wait, TestContext.Current.CancellationToken);

    public void Signal(int signal) => _child.Signal(signal);

    /// <summary>The process's resident set size now, in bytes (<c>VmRSS</c>).</summary>
    public long ResidentBytes() => _child.ResidentBytes() ?? throw new InvalidOperationException("/proc does not tell the resident set size");

    /// <summary>The process's peak resident set size, in bytes (<c>VmHWM</c>).</summary>
    public long PeakResidentBytes() => _child.PeakResidentBytes() ?? throw new InvalidOperationException("/proc does not tell the peak resident set size");

    public Task WriteInputAsync(string text) => _child.WriteInputAsync(text);

    /// <summary>Waits for the process to exit and its output to be read to the end.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        try
        {
            return await _child.WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken);
        }
        catch (TimeoutException ex)
        {
            Assert.Fail(ex.Message);
            throw;
        }
    }

    /// <summary>The exit summary, <c>accepted=N stored=N rejected=N dropped=N</c>, as numbers.</summary>
    public Summary ReadSummary()
    {
        var line = LastLine("accepted=", "summary");
        var values = KeyValues(line);
        Assert.Equal(["accepted", "stored", "rejected", "dropped"], values.Keys.Take(4));
        Assert.True(values.Count == 4 || (values.Count == 5 && values.ContainsKey("replayed")), line);
        return new Summary(values["accepted"], values["stored"], values["rejected"], values["dropped"], values.GetValueOrDefault("replayed"));
    }

    /// <summary>The spill log's line after the summary (<c>spill: written_bytes=N ...</c>), as its keys and values.</summary>
    public Dictionary<string, long> ReadSpillSummary() => KeyValues(LastLine("spill: ", "spill")["spill: ".Length..]);

    private string LastLine(string start, string what)
    {
        var line = OutputLines.LastOrDefault(l => l.StartsWith(start, StringComparison.Ordinal));
        Assert.True(line is not null, $"no {what} line in:\n" + string.Join('\n', OutputLines));
        return line;
    }

    private static Dictionary<string, long> KeyValues(string pairs) =>
        pairs.Split(' ').Select(p => p.Split('='))
            .ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));

    public ValueTask DisposeAsync() => _child.DisposeAsync();

    public sealed record Summary(long Accepted, long Stored, long Rejected, long Dropped, long Replayed = 0);
}
