using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace Spillway.Cli.Bench;

/// <summary>
/// This program run again as a child process (<c>spillway serve</c> under <c>bench</c>), its stdout read line by line
/// for the <c>listening</c> lines and the summary, its stderr kept for the error message if it fails.
/// </summary>
internal sealed partial class ChildProcess : IAsyncDisposable
{
    public const int Sigterm = 15;

    private const int ErrorLinesKept = 40;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _error = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<IPEndPoint>> _listening = new();

    private ChildProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                foreach (var waiting in _listening.Values)
                {
                    waiting.TrySetException(new InvalidOperationException("spillway serve exited before it listened:\n" + ErrorTail));
                }

                return;
            }

            _output.Enqueue(e.Data);
            if (e.Data.Split(' ') is ["listening", var transport, var endpoint] && IPEndPoint.TryParse(endpoint, out var parsed))
            {
                Listener(transport).TrySetResult(parsed);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                _error.Enqueue(e.Data);
                while (_error.Count > ErrorLinesKept && _error.TryDequeue(out var _))
                {
                }
            }
        };
    }

    public int Id => _process.Id;

    public IReadOnlyList<string> OutputLines => [.. _output];

    /// <summary>The last lines the child wrote to stderr.</summary>
    public string ErrorTail => string.Join('\n', _error);

    /// <summary>
    /// Starts this program with <paramref name="args"/>. <c>SPILLWAY__*</c> variables are not passed on: the child runs
    /// with the arguments given and the defaults, whatever the caller's environment says.
    /// </summary>
    public static ChildProcess StartSelf(IEnumerable<string> args)
    {
        var start = SelfStartInfo();
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SPILLWAY__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        var process = new Process { StartInfo = start };
        var child = new ChildProcess(process);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The endpoint of the child's <c>listening TRANSPORT HOST:PORT</c> line, once it has printed it.</summary>
    public Task<IPEndPoint> ListeningAsync(string transport, TimeSpan timeout, CancellationToken cancellationToken) =>
        Listener(transport).Task.WaitAsync(timeout, cancellationToken);

    /// <summary>The child's peak resident set size (<c>VmHWM</c>), or null where <c>/proc</c> does not tell it.</summary>
    public long? PeakResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                // "VmHWM:    154320 kB"
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
                {
                    return kib * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // not Linux, or the process is gone: there is no figure to report
        }

        return null;
    }

    public bool HasExited => _process.HasExited;

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits for the child to exit and its output to be read to the end; its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"spillway serve (pid {_process.Id}) did not exit within {timeout.TotalSeconds:F0} s:\n{ErrorTail}");
        }

        return _process.ExitCode;
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

    /// <summary>How to run this program again: its apphost, or <c>dotnet exec spillway.dll</c> when run through dotnet.</summary>
    private static ProcessStartInfo SelfStartInfo()
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this program is not known");
        if (!string.Equals(Path.GetFileNameWithoutExtension(path), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return new ProcessStartInfo(path);
        }

        var start = new ProcessStartInfo(path);
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        return start;
    }

    private TaskCompletionSource<IPEndPoint> Listener(string transport) =>
        _listening.GetOrAdd(transport, _ => new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously));

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
