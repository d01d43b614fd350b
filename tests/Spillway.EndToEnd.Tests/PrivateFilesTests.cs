using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Spillway.EndToEnd.Tests;

/// <summary>What serve stores is the service's alone: 0600 files and 0700 directories, whatever umask it was started with.</summary>
public sealed class PrivateFilesTests
{
    [Fact]
    public async Task The_database_the_spill_log_and_their_directories_are_private_to_the_service()
    {
        // serve inherits this process's umask; under 077 already, the modes below would prove nothing.
        var umask = Convert.ToInt32(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Umask:", StringComparison.Ordinal))[6..].Trim(), 8);
        if ((umask & 0x3F) == 0x3F)
        {
            Assert.Skip($"the test runs under umask {Convert.ToString(umask, 8)}, which makes every file private already");
        }

        using var workspace = new Workspace();
        var database = Path.Combine(workspace.Directory, "data", "logs.db");
        await using var serve = SpillwayProcess.Start(workspace.Directory,
            ["serve", "--listen-tcp", "none", "--listen-udp", "none", "--listen-http", "127.0.0.1:0", "--sqlite", database]);
        var http = await serve.ListeningAsync("http");
        using (var client = new HttpClient())
        using (var body = new ByteArrayContent(Encoding.UTF8.GetBytes("one\ntwo")))
        {
            body.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
            var response = await client.PostAsync(new Uri($"http://{http}/ingest"), body, TestContext.Current.CancellationToken);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        }

        var made = new DirectoryInfo(Path.Combine(workspace.Directory, "data")).EnumerateFileSystemInfos("*", SearchOption.AllDirectories)
            .Append(new DirectoryInfo(Path.Combine(workspace.Directory, "data")))
            .Select(f => (f.FullName, Mode: Convert.ToString((int)f.UnixFileMode, 8), IsDirectory: f is DirectoryInfo))
            .ToList();
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());

        Assert.Contains(made, f => f.FullName.EndsWith("logs.db-wal", StringComparison.Ordinal));
        Assert.Contains(made, f => f.FullName.EndsWith(".log", StringComparison.Ordinal));
        Assert.All(made, f => Assert.True(f.Mode == (f.IsDirectory ? "700" : "600"),
            string.Create(CultureInfo.InvariantCulture, $"{f.FullName} is {f.Mode} under umask {Convert.ToString(umask, 8)}")));
    }
}
