using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>The built <c>spillway</c> CLI run as a child process, its output captured line by line.</summary>
internal sealed partial class SpillwayProcess : IAsyncDisposable
{
    public const int Sigterm = 15;
    public const int Sigint = 2;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _error = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<IPEndPoint>> _listening = new();

    private SpillwayProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                foreach (var waiting in _listening.Values)
                {
                    waiting.TrySetException(new InvalidOperationException("spillway exited before it listened:\n" + Error));
                }

                return;
            }

            _output.Enqueue(e.Data);
            if (e.Data.Split(' ') is ["listening", var transport, var endpoint])
            {
                Listener(transport).TrySetResult(IPEndPoint.Parse(endpoint));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _error.Enqueue(e.Data);
            }
        };
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> OutputLines => [.. _output];

    public string Error => string.Join('\n', _error);

    public static SpillwayProcess Start(string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "spillway.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start };
        var spillway = new SpillwayProcess(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return spillway;
    }

    /// <summary>The endpoint of the <c>listening TRANSPORT HOST:PORT</c> line, once serve has printed it.</summary>
    public async Task<IPEndPoint> ListeningAsync(string transport = "tcp") =>
        await Listener(transport).Task.WaitAsync(TestTimeouts.Wait, TestContext.Current.CancellationToken);

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public async Task WriteInputAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        _process.StandardInput.Close();
    }

    /// <summary>Waits for the process to exit and its output to be read to the end.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        try
        {
            await _process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(timeout ?? TimeSpan.FromSeconds(120));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"spillway (pid {_process.Id}) did not exit in time; its log:\n{Error}");
        }

        return _process.ExitCode;
    }

    /// <summary>The exit summary, <c>accepted=N stored=N rejected=N dropped=N</c>, as numbers.</summary>
    public Summary ReadSummary()
    {
        var line = OutputLines.LastOrDefault(l => l.StartsWith("accepted=", StringComparison.Ordinal));
        Assert.True(line is not null, "no summary line in:\n" + string.Join('\n', OutputLines));
        var values = line.Split(' ').Select(p => p.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["accepted", "stored", "rejected", "dropped"], values.Keys);
        return new Summary(values["accepted"], values["stored"], values["rejected"], values["dropped"]);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private TaskCompletionSource<IPEndPoint> Listener(string transport) =>
        _listening.GetOrAdd(transport, _ => new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously));

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public sealed record Summary(long Accepted, long Stored, long Rejected, long Dropped);
}
