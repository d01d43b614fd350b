using System.CommandLine;

namespace Spillway.Bench;

/// <summary>
/// The <c>spillway-bench</c> command: the load tools, kept out of the product. The root command is the benchmark;
/// <c>spillway-bench send</c> sends messages.
/// </summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => InvokeAsync(args, Console.OpenStandardInput, Console.Out, Console.Error);

    /// <summary>Parses and runs a command line with the given standard streams.</summary>
    public static Task<int> InvokeAsync(string[] args, Func<Stream> openInput, TextWriter output, TextWriter error) =>
        BenchCommand.Create(openInput).Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
}
