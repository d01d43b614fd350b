using System.Net.Http.Json;
using System.Text.Json;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary><c>spillway query</c> and <c>spillway tail</c> read what a running serve stored, as an operator would.</summary>
public sealed class QueryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Tail_shows_what_serve_stores_as_it_is_stored_and_query_reads_it_back_filtered()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--batch-linger", "10ms");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };
        await PostAsync(client, "api", 6, "before the tail");

        await using var tail = SpillwayProcess.Start(workspace.Directory, ["tail", "--sqlite", workspace.Database, "--app", "api", "--lines", "5"]);
        await Eventually.Until(() => tail.OutputLines.Any(l => l.EndsWith("info: before the tail", StringComparison.Ordinal)), "tail to show the newest");

        await PostAsync(client, "api", 3, "user 42 not found");
        await PostAsync(client, "worker", 3, "another app");
        await PostAsync(client, "api", 4, "slow answer");
        await Eventually.Until(() => tail.OutputLines.Any(l => l.EndsWith("warning: slow answer", StringComparison.Ordinal)), "tail to follow");
        Assert.Contains(tail.OutputLines, l => l.EndsWith("err: user 42 not found", StringComparison.Ordinal));
        Assert.DoesNotContain(tail.OutputLines, l => l.Contains("another app", StringComparison.Ordinal));
        tail.Signal(SpillwayProcess.Sigint);
        Assert.Equal(0, await tail.WaitForExitAsync());

        await using var query = SpillwayProcess.Start(workspace.Directory,
            ["query", "--sqlite", workspace.Database, "--severity", "err", "--since", "1h", "--format", "json"]);
        Assert.Equal(0, await query.WaitForExitAsync());
        var rows = query.OutputLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["user 42 not found", "another app"], rows.Select(r => r.GetProperty("message").GetString()));
        Assert.Equal(["api", "worker"], rows.Select(r => r.GetProperty("app_name").GetString()));

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
    }

    [Fact]
    public async Task Query_says_in_one_line_when_there_is_no_database()
    {
        using var workspace = new Workspace();
        await using var query = SpillwayProcess.Start(workspace.Directory, ["query", "--sqlite", "nothing-here.db"]);
        Assert.Equal(1, await query.WaitForExitAsync());
        Assert.StartsWith("spillway query: there is no SQLite database at", query.Error.Trim(), StringComparison.Ordinal);
    }

    private static async Task PostAsync(HttpClient client, string app, int severity, string message)
    {
        using var response = await client.PostAsJsonAsync("ingest", new { message, app_name = app, severity }, Ct);
        response.EnsureSuccessStatusCode();
    }
}
