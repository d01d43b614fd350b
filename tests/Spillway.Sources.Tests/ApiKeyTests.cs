using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Spillway.Http;
using Spillway.Keys;
using Spillway.Reloading;
using Spillway.Testing;

namespace Spillway.Sources.Tests;

public sealed class ApiKeyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("spillway-keys-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string KeysFile(params string[] lines)
    {
        var path = Path.Combine(_directory, "keys");
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        return path;
    }

    private static ApiKeyStore Store(string path, TimeProvider? time = null) =>
        new(new ApiKeyOptions { Path = path, ReloadDelay = TimeSpan.FromMilliseconds(50) }, time ?? TimeProvider.System,
            NullLogger<ApiKeyStore>.Instance);

    [Fact]
    public void The_file_gives_names_hashes_and_limits_and_skips_comments_and_blank_lines()
    {
        var (a, b) = (ApiKeySecret.New(), ApiKeySecret.New());
        var keys = ApiKeyFile.Parse(string.Join('\n',
            "# the edge apps",
            "",
            ApiKeySecret.Line("web.frontend-1", a, new ApiKeyLimit(500, 2000)) + "   # with a trailing comment",
            "  " + ApiKeySecret.Line("batch_job", b, null),
            "quick " + ApiKeySecret.HashPrefix + Convert.ToHexStringLower(ApiKeySecret.Hash("x")) + " rate=7"), "keys");

        Assert.Equal(["web.frontend-1", "batch_job", "quick"], keys.Select(k => k.Name));
        Assert.Equal(new ApiKeyLimit(500, 2000), keys[0].Limit);
        Assert.Null(keys[1].Limit);
        Assert.Equal(new ApiKeyLimit(7, 7), keys[2].Limit); // the burst is the rate unless given
    }

    public static TheoryData<string, string> BadLines => new()
    {
        { "lonely", "keys:2: a key's line is NAME sha256:HEX" },
        { "bad/name sha256:" + new string('a', 64), "keys:2: 'bad/name' is not a key name" },
        { new string('n', 65) + " sha256:" + new string('a', 64), "is not a key name" },
        { "app sha256:abc", "keys:2: 'sha256:abc' is not a hash" },
        { "app sha256:" + new string('g', 64), "is not a hash" },
        { "app " + new string('a', 64), "is not a hash: write sha256:" },
        { "app spw_secretsecret", "keys:2: this is a secret, not its hash" },
        { "app sha256:" + new string('a', 64) + " rate=0", "rate must be a whole number from 1" },
        { "app sha256:" + new string('a', 64) + " rate=-3", "rate must be a whole number from 1" },
        { "app sha256:" + new string('a', 64) + " rate=1e3", "rate must be a whole number" },
        { "app sha256:" + new string('a', 64) + " burst=10", "burst needs a rate" },
        { "app sha256:" + new string('a', 64) + " rate=1 rate=2", "rate is given twice" },
        { "app sha256:" + new string('a', 64) + " limit=5", "'limit=5' is not an option of a key" },
        { "second sha256:" + new string('B', 64), "keys:2: key 'second' has the same secret as the key on line 1" },
        { "first sha256:" + new string('c', 64), "keys:2: the key name 'first' is on line 1 already" },
    };

    [Theory]
    [MemberData(nameof(BadLines))]
    public void A_wrong_line_is_refused_with_its_place_and_reason(string line, string expected)
    {
        var error = Assert.Throws<ApiKeyFileException>(() => ApiKeyFile.Parse("first sha256:" + new string('b', 64) + "\n" + line, "keys"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_refused_with_its_name()
    {
        var path = Path.Combine(_directory, "absent");
        var error = Assert.Throws<ApiKeyFileException>(() => Store(path));
        Assert.Contains($"the API keys file '{path}' cannot be read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_are_fresh_each_time_and_found_only_by_themselves()
    {
        var secrets = Enumerable.Range(0, 50).Select(_ => ApiKeySecret.New()).ToList();
        Assert.Equal(secrets.Count, secrets.Distinct(StringComparer.Ordinal).Count());
        Assert.All(secrets, s => Assert.Matches("^spw_[A-Za-z0-9_-]{43}$", s));

        using var store = Store(KeysFile([.. secrets.Select((s, i) => ApiKeySecret.Line($"k{i}", s, null))]));
        for (var i = 0; i < secrets.Count; i++)
        {
            Assert.Equal($"k{i}", store.Find(secrets[i])?.Name);
        }

        Assert.Null(store.Find(secrets[0].AsSpan(0, secrets[0].Length - 1)));
        Assert.Null(store.Find(secrets[0] + "x"));
        Assert.Null(store.Find(ApiKeySecret.Line("k0", secrets[0], null).Split(' ')[1])); // the hash is not the secret
    }

    [Fact]
    public void The_hash_is_the_sha256_of_the_secret_in_hex()
    {
        // Known answer: SHA-256("abc") from FIPS 180-2, appendix B.1.
        Assert.Equal("x sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ApiKeySecret.Line("x", "abc", null));
    }

    [Fact]
    public void A_bucket_lets_in_its_burst_then_refuses_whole_requests_with_when_to_come_back()
    {
        var secret = ApiKeySecret.New();
        using var store = Store(KeysFile(ApiKeySecret.Line("app", secret, new ApiKeyLimit(1, 10))));
        var key = store.Find(secret)!;

        Assert.True(key.TryTake(6, out _));
        Assert.True(key.TryTake(4, out _));
        Assert.False(key.TryTake(5, out var retryAfter)); // 5 tokens at 1 a second: about 5 s away
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        Assert.Throws<ArgumentOutOfRangeException>(() => key.TryTake(11, out _)); // more than the bucket can ever hold
    }

    [Fact]
    public async Task A_spent_bucket_fills_at_the_rate_for_all_the_time_it_was_left_alone()
    {
        // The bucket's own clock is the system's (System.Threading.RateLimiting takes no TimeProvider): this waits real
        // time, because what is tested is how much time gives back. A bucket that gave back one period's worth at each
        // look, whatever the time since the last, would let in 2 here, not 4.
        var secret = ApiKeySecret.New();
        using var store = Store(KeysFile(ApiKeySecret.Line("app", secret, new ApiKeyLimit(2, 4))));
        var key = store.Find(secret)!;
        Assert.True(key.TryTake(4, out _)); // the bucket is empty now

        await Task.Delay(TimeSpan.FromSeconds(2.2), TimeProvider.System, TestContext.Current.CancellationToken);
        Assert.True(key.TryTake(4, out _), "2 s at 2 a second fill the bucket of 4");
    }

    [Fact]
    public void A_reload_keeps_a_keys_bucket_while_its_limit_is_the_same_and_drops_removed_keys()
    {
        var (kept, removed, changed) = (ApiKeySecret.New(), ApiKeySecret.New(), ApiKeySecret.New());
        var path = KeysFile(ApiKeySecret.Line("kept", kept, new ApiKeyLimit(1, 5)), ApiKeySecret.Line("removed", removed, null),
            ApiKeySecret.Line("changed", changed, new ApiKeyLimit(1, 5)));
        using var store = Store(path);
        Assert.True(store.Find(kept)!.TryTake(5, out _));
        Assert.True(store.Find(changed)!.TryTake(5, out _));

        KeysFile(ApiKeySecret.Line("kept", kept, new ApiKeyLimit(1, 5)), ApiKeySecret.Line("changed", changed, new ApiKeyLimit(2, 8)),
            ApiKeySecret.Line("added", ApiKeySecret.New(), null));
        Assert.True(store.Reload("test"));

        Assert.Null(store.Find(removed));
        Assert.False(store.Find(kept)!.TryTake(5, out _)); // still empty: a reload is no way around the limit
        Assert.True(store.Find(changed)!.TryTake(8, out _)); // a new limit starts a new, full bucket
        Assert.Equal(["kept", "changed", "added"], store.Keys.Select(k => k.Name));
        Assert.Equal(1, store.Reloads);
    }

    [Fact]
    public void A_file_that_does_not_load_keeps_the_keys_in_force_until_it_loads_again()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero));
        var secret = ApiKeySecret.New();
        var path = KeysFile(ApiKeySecret.Line("app", secret, null));
        using var store = Store(path, time);

        KeysFile("app " + secret); // an operator pasted the secret itself
        Assert.False(store.Reload("SIGHUP"));
        Assert.Equal("app", store.Find(secret)?.Name);
        var failure = Assert.IsType<ReloadFailure>(store.Failure);
        Assert.Contains("this is a secret, not its hash", failure.Error, StringComparison.Ordinal);
        Assert.Equal(time.GetUtcNow(), failure.Since);

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(store.Reload("SIGHUP"));
        Assert.Equal(time.GetUtcNow() - TimeSpan.FromMinutes(1), store.Failure!.Since); // failing since the first failure

        var other = ApiKeySecret.New();
        KeysFile(ApiKeySecret.Line("other", other, null));
        Assert.True(store.Reload("SIGHUP"));
        Assert.Null(store.Failure);
        Assert.Null(store.Find(secret));
        Assert.Equal("other", store.Find(other)?.Name);
    }

    [Fact]
    public async Task A_changed_file_is_read_again_once_it_is_still()
    {
        var (first, second) = (ApiKeySecret.New(), ApiKeySecret.New());
        var path = KeysFile(ApiKeySecret.Line("first", first, null));
        using var store = Store(path);
        store.Watch();

        // Replaced by a rename, as editors and configuration tools do: the watch is on the directory.
        var next = Path.Combine(_directory, "keys.new");
        await File.WriteAllTextAsync(next, ApiKeySecret.Line("second", second, null) + "\n", Ct);
        File.Move(next, path, overwrite: true);

        await Eventually.Until(() => store.Find(second) is not null, "the replaced keys file to be in force");
        Assert.Null(store.Find(first));
    }

    // The HTTP source with keys.

    private static async Task<HttpResponseMessage> PostAsync(
        SourceHarness harness, string body, string? bearer = null, string? header = null, string path = "/ingest")
    {
        using var client = new HttpClient { Timeout = TestTimeouts.Wait };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://{harness.Endpoint}{path}"))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)) { Headers = { ContentType = new MediaTypeHeaderValue("text/plain") } },
        };
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (header is not null)
        {
            request.Headers.Add(HttpSource.ApiKeyHeader, header);
        }

        var response = await client.SendAsync(request, Ct);
        await response.Content.LoadIntoBufferAsync(Ct);
        return response;
    }

    private static async Task<string> ErrorOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("error").GetString()!;

    [Fact]
    public async Task Ingest_needs_a_key_in_force_and_answers_401_with_a_challenge_otherwise()
    {
        var secret = ApiKeySecret.New();
        var path = KeysFile(ApiKeySecret.Line("app", secret, null));
        using var store = Store(path);
        await using var harness = await SourceHarness.StartHttpAsync(keys: store);

        using var none = await PostAsync(harness, "no key");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer realm=\"spillway\"", none.Headers.WwwAuthenticate.ToString());
        Assert.Contains("an API key is needed", await ErrorOf(none), StringComparison.Ordinal);

        using var wrong = await PostAsync(harness, "wrong key", bearer: ApiKeySecret.New());
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("Bearer realm=\"spillway\", error=\"invalid_token\"", wrong.Headers.WwwAuthenticate.ToString());

        // Routing matches /INGEST and /ingest/ too: the key is asked for by the endpoint matched, not by the path's spelling.
        using var shouted = await PostAsync(harness, "shouted", path: "/INGEST/");
        Assert.Equal(HttpStatusCode.Unauthorized, shouted.StatusCode);

        using var bearer = await PostAsync(harness, "by bearer", bearer: secret);
        using var header = await PostAsync(harness, "by header", header: secret);
        Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        Assert.Equal(HttpStatusCode.OK, header.StatusCode);

        await harness.StopAsync();
        Assert.Equal(["by bearer", "by header"], harness.Sink.Stored.Order(StringComparer.Ordinal));
        Assert.Equal(2, harness.HttpLimits.RequestsUnauthorized[HttpSource.NoApiKey]);
        Assert.Equal(1, harness.HttpLimits.RequestsUnauthorized[HttpSource.WrongApiKey]);
        Assert.Equal(2, store.Counts["app"].Requests);
        Assert.Equal(2, store.Counts["app"].Messages);
    }

    [Fact]
    public async Task A_key_removed_from_the_file_is_refused_at_its_next_request()
    {
        var (staying, leaving) = (ApiKeySecret.New(), ApiKeySecret.New());
        var path = KeysFile(ApiKeySecret.Line("staying", staying, null), ApiKeySecret.Line("leaving", leaving, null));
        using var store = Store(path);
        await using var harness = await SourceHarness.StartHttpAsync(keys: store);
        using var before = await PostAsync(harness, "before", bearer: leaving);
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        KeysFile(ApiKeySecret.Line("staying", staying, null));
        Assert.True(store.Reload("SIGHUP"));

        using var after = await PostAsync(harness, "after", bearer: leaving);
        using var other = await PostAsync(harness, "other", bearer: staying);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        await harness.StopAsync();
        Assert.Equal(["before", "other"], harness.Sink.Stored.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Over_its_rate_a_key_gets_429_with_retry_after_and_nothing_of_the_request_is_taken()
    {
        var (limited, free) = (ApiKeySecret.New(), ApiKeySecret.New());
        using var store = Store(KeysFile(ApiKeySecret.Line("limited", limited, new ApiKeyLimit(1, 10)), ApiKeySecret.Line("free", free, null)));
        await using var harness = await SourceHarness.StartHttpAsync(keys: store);

        using var burst = await PostAsync(harness, string.Join('\n', Enumerable.Range(0, 10).Select(i => $"burst {i}")), bearer: limited);
        Assert.Equal(HttpStatusCode.OK, burst.StatusCode);

        // Ten more at one a second are at least five seconds away, however slow this machine is.
        using var over = await PostAsync(harness, string.Join('\n', Enumerable.Range(0, 10).Select(i => $"over {i}")), bearer: limited);
        Assert.Equal((HttpStatusCode)429, over.StatusCode);
        var retryAfter = over.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
        Assert.Contains("the key 'limited' is over its rate of 1 msg/s, burst 10; nothing was taken", await ErrorOf(over), StringComparison.Ordinal);

        using var huge = await PostAsync(harness, string.Join('\n', Enumerable.Range(0, 11).Select(i => $"huge {i}")), bearer: limited);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.Contains("11 messages are more than the key 'limited' may send at once (10)", await ErrorOf(huge), StringComparison.Ordinal);

        using var other = await PostAsync(harness, "another key's bucket is its own", bearer: free);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        await harness.StopAsync();
        Assert.Equal(11, harness.Sink.Stored.Count);
        Assert.DoesNotContain(harness.Sink.Stored, m => m.StartsWith("over", StringComparison.Ordinal) || m.StartsWith("huge", StringComparison.Ordinal));
        Assert.Equal(1, store.Counts["limited"].Limited);
        Assert.Equal(10, store.Counts["limited"].Messages);
    }

    [Fact]
    public async Task The_other_endpoints_need_a_key_only_when_the_admin_is_protected()
    {
        var secret = ApiKeySecret.New();
        using var store = Store(KeysFile(ApiKeySecret.Line("ops", secret, null)));
        foreach (var protect in new[] { false, true })
        {
            await using var harness = await SourceHarness.StartHttpAsync(keys: store, protectAdmin: protect, endpoints: [new PingEndpoint()]);
            using var client = new HttpClient { Timeout = TestTimeouts.Wait };
            using var open = await client.GetAsync(new Uri($"http://{harness.Endpoint}/ping"), Ct);
            Assert.Equal(protect ? HttpStatusCode.Unauthorized : HttpStatusCode.OK, open.StatusCode);

            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://{harness.Endpoint}/ping"));
            request.Headers.Add(HttpSource.ApiKeyHeader, secret);
            using var keyed = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, keyed.StatusCode);
            Assert.Equal("pong", await keyed.Content.ReadAsStringAsync(Ct));
        }
    }

    private sealed class PingEndpoint : IHttpEndpoint
    {
        public void Map(WebApplication app) => app.MapGet("/ping", () => Results.Text("pong"));
    }
}
