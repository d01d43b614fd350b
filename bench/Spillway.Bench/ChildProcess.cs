using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace Spillway.Bench;

/// <summary>
/// A <c>spillway</c> run as a child process (<c>serve</c> under <c>bench</c>, or under the end-to-end tests), its stdout
/// read line by line for the <c>listening</c> lines and the summary, its stderr kept for the error message if it fails.
/// </summary>
internal sealed partial class ChildProcess : IAsyncDisposable
{
    public const int Sigterm = 15;
    public const int Sigint = 2;

    private readonly Process _process;
    private readonly int? _errorLinesKept;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _error = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<IPEndPoint>> _listening = new();

    private ChildProcess(Process process, int? errorLinesKept)
    {
        _process = process;
        _errorLinesKept = errorLinesKept;
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
                while (_error.Count > _errorLinesKept && _error.TryDequeue(out var _))
                {
                }
            }
        };
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> OutputLines => [.. _output];

    /// <summary>What the child wrote to stderr (its last lines only, when started with a limit).</summary>
    public string Error => string.Join('\n', _error);

    /// <summary>
    /// Starts the <c>spillway</c> at <paramref name="program"/> (an executable, or a <c>.dll</c> run by <c>dotnet exec</c>)
    /// with <paramref name="args"/>, keeping the last 40 lines of its stderr. <c>SPILLWAY__*</c> variables are not passed
    /// on: the child runs with the arguments given and the defaults, whatever the caller's environment says.
    /// </summary>
    public static ChildProcess StartServe(string program, IEnumerable<string> args)
    {
        var start = StartInfo(program);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SPILLWAY__", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        return Start(start, errorLinesKept: 40);
    }

    /// <summary>The <c>spillway</c> built and copied beside this program: its executable, else its <c>spillway.dll</c>.</summary>
    public static string ServeBesideThis()
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "spillway");
        return File.Exists(executable) ? executable : Path.Combine(AppContext.BaseDirectory, "spillway.dll");
    }

    /// <summary>How to run <paramref name="program"/>: itself, or a <c>.dll</c> under the <c>dotnet</c> running this one (else on the PATH).</summary>
    public static ProcessStartInfo StartInfo(string program)
    {
        if (!program.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return new ProcessStartInfo(program);
        }

        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host);
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(program);
        return start;
    }

    /// <summary>Starts <paramref name="start"/> with stdout and stderr redirected and read; stdin as the caller set it.</summary>
    /// <param name="start">What to run.</param>
    /// <param name="errorLinesKept">How many of the last stderr lines to keep; null for all.</param>
    public static ChildProcess Start(ProcessStartInfo start, int? errorLinesKept = null)
    {
        ArgumentNullException.ThrowIfNull(start);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = new Process { StartInfo = start };
        var child = new ChildProcess(process, errorLinesKept);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>The endpoint of the child's <c>listening TRANSPORT HOST:PORT</c> line, once it has printed it.</summary>
    public Task<IPEndPoint> ListeningAsync(string transport, TimeSpan timeout, CancellationToken cancellationToken) =>
        Listener(transport).Task.WaitAsync(timeout, cancellationToken);

    /// <summary>The child's peak resident set size (<c>VmHWM</c>), or null where <c>/proc</c> does not tell it.</summary>
    public long? PeakResidentBytes() => StatusBytes("VmHWM");

    /// <summary>The child's resident set size now (<c>VmRSS</c>), or null where <c>/proc</c> does not tell it.</summary>
    public long? ResidentBytes() => StatusBytes("VmRSS");

    /// <summary>A size line of <c>/proc/PID/status</c> (<c>"VmHWM:    154320 kB"</c>), in bytes.</summary>
    private long? StatusBytes(string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.Length > field.Length && line.StartsWith(field, StringComparison.Ordinal) && line[field.Length] == ':'
                    && long.TryParse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
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

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Writes <paramref name="text"/> to the child's stdin (started with it redirected) and closes it.</summary>
    public async Task WriteInputAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        _process.StandardInput.Close();
    }

    /// <summary>Waits for the child to exit and its output to be read to the end; its exit code.</summary>
    /// <exception cref="TimeoutException">It did not exit in time; the message holds its stderr.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await _process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"spillway (pid {_process.Id}) did not exit within {timeout.TotalSeconds:F0} s:\n{Error}");
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

    private TaskCompletionSource<IPEndPoint> Listener(string transport) =>
        _listening.GetOrAdd(transport, _ => new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously));

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
