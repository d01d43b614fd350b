using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Spillway.Cli.Commands;

/// <summary><c>spillway --version</c>: what was built from which commit, on which runtime, with which database libraries.</summary>
internal static class VersionInfo
{
    /// <summary>The version, without the commit: <c>0.1.0</c>.</summary>
    public static string Version => Informational.Split('+')[0];

    /// <summary>The commit it was built from, or <c>unknown</c> for a build outside a git checkout.</summary>
    public static string Commit => Informational.Split('+') is [_, var commit, ..] && commit.Length > 0 ? commit : "unknown";

    private static string Informational =>
        typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Makes the root command's <c>--version</c> print <see cref="Describe"/>.</summary>
    public static void Install(RootCommand root)
    {
        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new PrintVersion();
        }
    }

    /// <summary>The lines <c>--version</c> prints.</summary>
    public static IEnumerable<string> Describe()
    {
        yield return $"spillway {Version}";
        yield return $"commit: {Commit}";
        // A native build (the package's) is the runtime and the program in one file; a self-contained one carries the
        // runtime beside the program; a framework-dependent one uses the machine's.
        var build = !RuntimeFeature.IsDynamicCodeSupported ? "self-contained, native AOT"
            : File.Exists(Path.Combine(AppContext.BaseDirectory, "libcoreclr.so")) ? "self-contained" : "shared";
        yield return $"runtime: .NET {Environment.Version} ({RuntimeInformation.RuntimeIdentifier}, {build})";
        yield return $"SQLite: {SqliteVersion()} (Microsoft.Data.Sqlite {LibraryVersion(typeof(SqliteConnection))})";
        yield return $"Npgsql: {LibraryVersion(typeof(NpgsqlConnection))}";
    }

    private static string SqliteVersion()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        return connection.ServerVersion;
    }

    private static string LibraryVersion(Type type) =>
        (type.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?").Split('+')[0];

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var output = parseResult.InvocationConfiguration.Output;
            foreach (var line in Describe())
            {
                output.WriteLine(line);
            }

            return 0;
        }
    }
}
