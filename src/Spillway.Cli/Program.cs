using System.CommandLine;
using Spillway.Cli.Commands;

namespace Spillway.Cli;

/// <summary>The <c>spillway</c> command.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => InvokeAsync(args, Console.Out, Console.Error);

    /// <summary>Parses and runs a command line with the given standard streams.</summary>
    public static Task<int> InvokeAsync(string[] args, TextWriter output, TextWriter error)
    {
        var root = CreateRootCommand();
        var configuration = new InvocationConfiguration
        {
            Output = output,
            Error = error,

            // serve handles SIGINT and SIGTERM itself: the first drains, the second forces. System.CommandLine's own
            // handler would cancel the command and kill the process after a timeout, mid-drain.
            ProcessTerminationTimeout = null,
        };
        return root.Parse(args).InvokeAsync(configuration);
    }

    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("Spillway: catches messages from the network in bursts and stores every one of them in a database")
        {
            ServeCommand.Create(),
            CheckConfigCommand.Create(),
            DemoCommand.Create(),
            StatusCommand.Create(),
            KeyCommand.Create(),
            QueryCommand.CreateQuery(),
            QueryCommand.CreateTail(),
        };
        VersionInfo.Install(root);
        return root;
    }
}
