using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Spillway.Cli.Status;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// API keys as an operator sets them up: keys made with <c>spillway key new</c>, their lines in a file given to
/// <c>--api-keys</c> with <c>--protect-admin</c>, senders posting with them, and the file edited under the running
/// service.
/// </summary>
public sealed class ApiKeyServeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The metric families served only with <c>--api-keys</c>.</summary>
    internal static bool IsKeyMetric(string family) =>
        family.StartsWith("spillway_api_key", StringComparison.Ordinal) || family.StartsWith("spillway_http_unauthorized", StringComparison.Ordinal);

    [Fact]
    public async Task Keys_from_key_new_let_their_senders_in_name_them_in_the_client_column_and_go_when_removed_from_the_file()
    {
        using var workspace = new Workspace();
        var (appSecret, appLine) = await NewKeyAsync(workspace, "billing-app", "--rate", "1", "--burst", "10");
        var (opsSecret, opsLine) = await NewKeyAsync(workspace, "prometheus");
        var keysFile = Path.Combine(workspace.Directory, "api-keys");
        WriteKeys(keysFile, "# made with spillway key new", appLine, opsLine);
        await using var serve = ServeTests.StartServe(workspace, "--api-keys", keysFile, "--protect-admin", "--batch-linger", "10ms");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/"), Timeout = TestTimeouts.Wait };

        // Without a key, or with a wrong one, nothing is taken and the admin endpoints answer nothing either.
        using (var response = await PostAsync(client, null, "no key"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        }

        using (var response = await PostAsync(client, ("Authorization", "Bearer " + appSecret[..^1] + "x"), "a wrong key"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        foreach (var path in new[] { "metrics", "health" })
        {
            using var response = await client.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // With a key: Bearer or X-API-Key. The app's key may send 10 at once, then 1 a second.
        var appMessages = Enumerable.Range(0, 10).Select(i => $"app {i}").ToList();
        using (var response = await PostAsync(client, ("Authorization", "Bearer " + appSecret), string.Join('\n', appMessages)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await PostAsync(client, ("X-API-Key", opsSecret), "ops one"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await PostAsync(client, ("Authorization", "Bearer " + appSecret), string.Join('\n', Enumerable.Range(0, 11))))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode); // more than its burst: never takable
        }

        using (var response = await PostAsync(client, ("Authorization", "Bearer " + appSecret), string.Join('\n', appMessages)))
        {
            // The burst spent, and a new one a second: 10 more cannot be there before 10 s have passed.
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.ToString());
        }

        // The admin endpoints with any key; the counts by key and reason; the families served are those documented.
        var metrics = PrometheusText.Parse(await GetAsync(client, "metrics", opsSecret));
        Assert.Equal(3, metrics.Sum("spillway_http_unauthorized_total", l => l["reason"] == "no-api-key")); // a POST, /metrics, /health
        Assert.Equal(1, metrics.Sum("spillway_http_unauthorized_total", l => l["reason"] == "wrong-api-key"));
        Assert.Equal(1, metrics.Sum("spillway_api_key_requests_total", l => l["key"] == "billing-app" && l["outcome"] == "taken"));
        Assert.Equal(1, metrics.Sum("spillway_api_key_requests_total", l => l["key"] == "billing-app" && l["outcome"] == "rate-limited"));
        Assert.Equal(10, metrics.Sum("spillway_api_key_messages_total", l => l["key"] == "billing-app"));
        Assert.Equal(1, metrics.Sum("spillway_api_key_messages_total", l => l["key"] == "prometheus"));
        Assert.Equal(2, metrics.Sum("spillway_api_keys"));
        Assert.Equal(0, metrics.Sum("spillway_api_keys_reload_failing"));
        var served = metrics.Select(m => m.Name).Where(IsKeyMetric).ToHashSet();
        Assert.Equal(ObservabilityTests.Documented().Where(IsKeyMetric).Order(), served.Order());
        Assert.Equal(2, KeysHealth(await GetAsync(client, "health", opsSecret)).GetProperty("keys").GetInt32());

        // spillway status reads them with the key in SPILLWAY_API_KEY, and says what is missing without it.
        string[] status = ["status", "--url", client.BaseAddress!.ToString(), "--once", "--interval", "100ms"];
        await using (var refused = SpillwayProcess.Start(workspace.Directory, status))
        {
            Assert.Equal(1, await refused.WaitForExitAsync());
            Assert.Contains("asks for an API key (serve runs with --protect-admin): set SPILLWAY_API_KEY", refused.Error, StringComparison.Ordinal);
        }

        await using (var shown = SpillwayProcess.Start(workspace.Directory, status, new Dictionary<string, string> { ["SPILLWAY_API_KEY"] = opsSecret }))
        {
            Assert.True(await shown.WaitForExitAsync() == 0, shown.Error);
            Assert.Contains(shown.OutputLines, l => l.Contains("healthy", StringComparison.Ordinal));
        }

        // A file that does not read keeps the keys in force, and says so in /health.
        WriteKeys(keysFile, appLine, "prometheus sha256:not-a-hash");
        var broken = await Eventually.ValueAsync(async () => KeysHealth(await GetAsync(client, "health", opsSecret)),
            h => h.GetProperty("reload_error").ValueKind == JsonValueKind.String, "/health to show the keys file that does not load");
        Assert.Contains($"{keysFile}:2: ", broken.GetProperty("reload_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, broken.GetProperty("keys").GetInt32());

        // The app's key removed from the file: refused from the reload on, the other goes on.
        WriteKeys(keysFile, opsLine);
        await Eventually.ValueAsync(async () => KeysHealth(await GetAsync(client, "health", opsSecret)),
            h => h.GetProperty("keys").GetInt32() == 1 && h.GetProperty("reload_error").ValueKind == JsonValueKind.Null, "the reload without the app's key");
        using (var response = await PostAsync(client, ("Authorization", "Bearer " + appSecret), "after removal"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using (var response = await PostAsync(client, ("Authorization", "Bearer " + opsSecret), "ops two"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // SIGHUP reads the keys file too (and does not end serve).
        serve.Signal(SpillwayProcess.Sighup);
        await Eventually.Until(() => serve.Error.Contains("SIGHUP received: reading the TLS and API key files again (1 set(s))", StringComparison.Ordinal),
            "serve to say it reads the keys file again on SIGHUP");
        Assert.False(serve.HasExited);

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(new SpillwayProcess.Summary(12, 12, 0, 0), serve.ReadSummary());
        var rows = workspace.MessageRows().Select(r => ((string)r["message"]!, (string?)r["client"]));
        Assert.Equal([.. appMessages.Select(m => (m, (string?)"billing-app")), ("ops one", "prometheus"), ("ops two", "prometheus")], rows);

        // The secrets are kept nowhere the service writes: not in the log, not in the database.
        Assert.DoesNotContain(appSecret, serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(opsSecret, serve.Error, StringComparison.Ordinal);
        Assert.True(File.ReadAllBytes(workspace.Database).AsSpan().IndexOf(Encoding.UTF8.GetBytes(appSecret)) < 0, "a secret in the database");
    }

    [Fact]
    public async Task Serve_refuses_to_start_on_a_keys_file_that_does_not_read_and_says_which_line()
    {
        using var workspace = new Workspace();
        var (_, line) = await NewKeyAsync(workspace, "app");
        var keysFile = Path.Combine(workspace.Directory, "api-keys");
        WriteKeys(keysFile, line, line);
        await using var serve = ServeTests.StartServe(workspace, "--api-keys", keysFile);
        Assert.Equal(1, await serve.WaitForExitAsync());
        Assert.Contains($"{keysFile}:2: the key name 'app' is on line 1 already", serve.Error, StringComparison.Ordinal);
    }

    /// <summary>Runs <c>spillway key new</c>: its first line is the secret, its second the keys file's line.</summary>
    private static async Task<(string Secret, string Line)> NewKeyAsync(Workspace workspace, string name, params string[] limits)
    {
        await using var key = SpillwayProcess.Start(workspace.Directory, ["key", "new", name, .. limits]);
        Assert.Equal(0, await key.WaitForExitAsync());
        Assert.Equal(2, key.OutputLines.Count);
        Assert.Matches("^spw_", key.OutputLines[0]);
        Assert.Matches($"^{Regex.Escape(name)} sha256:[0-9a-f]{{64}}", key.OutputLines[1]);
        Assert.DoesNotContain(key.OutputLines[0], key.OutputLines[1], StringComparison.Ordinal);
        return (key.OutputLines[0], key.OutputLines[1]);
    }

    /// <summary>Writes the keys file whole, then moves it into place, as an operator's deploy would; private to the user.</summary>
    private static void WriteKeys(string path, params string[] lines)
    {
        var aside = path + ".new";
        File.WriteAllText(aside, string.Join('\n', lines) + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(aside, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(aside, path, overwrite: true);
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, (string Name, string Value)? header, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "ingest") { Content = new StringContent(body, Encoding.UTF8, "text/plain") };
        if (header is { } h)
        {
            request.Headers.TryAddWithoutValidation(h.Name, h.Value);
        }

        return await client.SendAsync(request, Ct);
    }

    private static async Task<string> GetAsync(HttpClient client, string path, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var response = await client.SendAsync(request, Ct);
        Assert.True(response.IsSuccessStatusCode, $"GET /{path}: {(int)response.StatusCode}");
        return await response.Content.ReadAsStringAsync(Ct);
    }

    private static JsonElement KeysHealth(string health) => JsonDocument.Parse(health).RootElement.GetProperty("api_keys").Clone();
}
