using System.Diagnostics;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>Runs the real tools the tests need (./test.sh installs them), each bounded by the tests' timeout.</summary>
internal static class Tools
{
    public static Process Start(string program, IEnumerable<string> args, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            return Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"'{program}' is needed for this test and could not be run (./test.sh installs it): {ex.Message}", ex);
        }
    }

    /// <summary>Runs to the end with <paramref name="input"/> on stdin; returns the exit code and stdout with stderr.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> args, string? input = null, string? workingDirectory = null)
    {
        using var process = Start(program, args, workingDirectory);
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TestTimeouts.Wait);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output + await error);
    }
}
