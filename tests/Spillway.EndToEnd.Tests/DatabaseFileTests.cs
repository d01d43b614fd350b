using System.Net;
using System.Text;
using System.Text.Json;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>The SQLite file deleted under a running serve: what is answered after it is stored at the path, once.</summary>
public sealed class DatabaseFileTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_database_deleted_under_load_is_made_anew_and_every_line_answered_after_it_is_stored_there_once()
    {
        const int Requests = 40;
        const int Lines = 10;
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--batch-linger", "5ms");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };

        async Task PostAsync(string tag)
        {
            for (var r = 0; r < Requests; r++)
            {
                var body = string.Join('\n', Enumerable.Range(0, Lines).Select(l => $"{tag}-{r}-{l}"));
                using var content = new StringContent(body, Encoding.UTF8, "text/plain");
                Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("ingest", content, Ct)).StatusCode);
            }
        }

        await PostAsync("before");
        foreach (var file in Directory.EnumerateFiles(workspace.Directory, "spillway.db*").Where(File.Exists))
        {
            File.Delete(file);
        }

        await PostAsync("after");
        await Eventually.Until(() => Scrape.Sum(client, "spillway_messages_stored_total") == 2 * Requests * Lines, "every line stored");

        using (var health = await client.GetAsync("health", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            using var document = JsonDocument.Parse(await health.Content.ReadAsStringAsync(Ct));
            Assert.Equal("degraded", document.RootElement.GetProperty("status").GetString());
            Assert.Contains("deleted or replaced", document.RootElement.GetProperty("problems")[0].GetString(), StringComparison.Ordinal);
        }

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        var stored = workspace.Messages();
        Assert.Equal(stored.Count, stored.Distinct().Count()); // nothing twice
        var after = stored.Where(m => m.StartsWith("after-", StringComparison.Ordinal)).ToList();
        Assert.Equal(Requests * Lines, after.Count); // every line answered after the delete is in the file at the path
        Assert.Contains("was deleted or replaced under the running service", serve.Error, StringComparison.Ordinal);
    }

}
