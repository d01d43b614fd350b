using System.Diagnostics;

namespace Spillway.Testing;

/// <summary>
/// The PostgreSQL that ./test.sh starts: where it is (SPILLWAY_TEST_POSTGRES), and the means to stop and start it
/// for the fault tests. Without the variable a test skips, except in CI (CI=true), where it fails.
/// </summary>
internal static class PostgresServer
{
    public static string ConnectionString()
    {
        var connectionString = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES");
        if (string.IsNullOrEmpty(connectionString))
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
            {
                Assert.Fail("SPILLWAY_TEST_POSTGRES is not set: run the tests through ./test.sh, which starts PostgreSQL");
            }

            Assert.Skip("SPILLWAY_TEST_POSTGRES is not set: ./test.sh starts a PostgreSQL for these tests");
        }

        return connectionString;
    }

    /// <summary>Stops the server at once, as a crash would.</summary>
    public static Task StopAsync() => PgCtlAsync("-m", "immediate", "stop");

    public static Task StartAsync() => PgCtlAsync("-w", "-t", "60", "start");

    private static async Task PgCtlAsync(params string[] args)
    {
        var pgCtl = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES_CTL");
        var data = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES_DATA");
        Assert.False(string.IsNullOrEmpty(pgCtl) || string.IsNullOrEmpty(data), "the fault tests need SPILLWAY_TEST_POSTGRES_CTL and _DATA (./test.sh)");
        var user = Environment.GetEnvironmentVariable("SPILLWAY_TEST_POSTGRES_AS");

        // Not redirected: the server pg_ctl starts would inherit the pipe and hold it open, and waiting for its end would hang.
        var start = new ProcessStartInfo(string.IsNullOrEmpty(user) ? pgCtl! : "runuser") { UseShellExecute = false };
        if (!string.IsNullOrEmpty(user))
        {
            foreach (var a in new[] { "-u", user, "--", pgCtl! })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var a in args.Prepend(data!).Prepend("-D").Append("-l").Append(Path.Combine(Path.GetDirectoryName(data)!, "server.log")))
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(90));
        Assert.Equal(0, process.ExitCode);
    }
}
