using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.Sources.Tests;

public sealed class HttpSourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(
        SourceHarness harness, string body, string contentType)
    {
        using var client = new HttpClient { Timeout = TestTimeouts.Wait };
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var response = await client.PostAsync(new Uri($"http://{harness.Endpoint}/ingest"), content, Ct);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone();
        return (response.StatusCode, json, response);
    }

    [Fact]
    public async Task Text_lines_are_answered_200_only_once_they_are_stored()
    {
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = await SourceHarness.StartHttpAsync(sink: sink);
        var post = PostAsync(harness, "first\n<13>Nov 25 02:14:18 vm app[3]: second\r\n\nlast without LF", "text/plain; charset=utf-8");

        await sink.FirstWrite.Task.WaitAsync(TestTimeouts.Wait, Ct); // the batch is in the sink's hands, not stored
        Assert.False(post.IsCompleted);

        sink.Gate.SetResult();
        var (status, body, _) = await post.WaitAsync(TestTimeouts.Wait, Ct);
        Assert.Equal(["first", "second", "last without LF"], sink.Stored); // stored by the time the answer came
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("accepted").GetInt32());
        Assert.Equal(0, body.GetProperty("rejected").GetInt32());
        Assert.Equal(1, harness.Stats.Blank);
    }

    [Fact]
    public async Task Bad_lines_are_kept_as_rejects_and_counted_in_the_answer()
    {
        await using var harness = await SourceHarness.StartHttpAsync(maxMessageBytes: 8);
        var (status, body, _) = await PostAsync(harness, "ok\nthis line is too long\nfine", "text/plain");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body.GetProperty("accepted").GetInt32());
        Assert.Equal(1, body.GetProperty("rejected").GetInt32());
        Assert.Equal(RejectReason.Oversize, Assert.Single(harness.Sink.Rejects).Reason);
    }

    [Fact]
    public async Task Ndjson_and_json_carry_the_syslog_fields()
    {
        await using var harness = await SourceHarness.StartHttpAsync();
        var (status, _, _) = await PostAsync(harness,
            "{\"message\":\"one\",\"severity\":3,\"facility\":16,\"app_name\":\"web\",\"hostname\":\"h1\",\"timestamp\":\"2026-11-25T01:02:03Z\"}\n\n{\"message\":\"two\",\"extra\":1}\n",
            "application/x-ndjson");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, _, _) = await PostAsync(harness, "[{\"message\":\"three\",\"proc_id\":\"9\"},{\"message\":\"four\"}]", "application/json");
        Assert.Equal(HttpStatusCode.OK, status);
        (status, _, _) = await PostAsync(harness, "{\"message\":\"five\",\"msg_id\":\"M\",\"structured_data\":\"[a@1 b=\\\"c\\\"]\"}", "application/json");
        Assert.Equal(HttpStatusCode.OK, status);

        await harness.StopAsync();
        Assert.Equal(["one", "two", "three", "four", "five"], harness.Sink.Stored);
        Assert.Equal(5, harness.Stats.Stored);
    }

    [Theory]
    [InlineData("application/json", "{\"msg\":\"x\"}", "the body has no \"message\" string")]
    [InlineData("application/json", "{not json", "the body is not a JSON message object")]
    [InlineData("application/json", "[{\"message\":\"a\"},{\"message\":\"b\",\"severity\":9}]", "element 1: facility must be 0 to 23 and severity 0 to 7")]
    [InlineData("application/x-ndjson", "{\"message\":\"a\"}\n{\"message\":1}\n", "line 2 is not a JSON message object")]
    [InlineData("application/json", "{\"message\":\"first\"}{\"message\":\"second\"}", "the body holds more than one JSON value, or bytes after it (its value ends at byte 19)")]
    [InlineData("application/json", "[{\"message\":\"first\"}] trailing", "the body holds more than one JSON value, or bytes after it (its value ends at byte 21)")]
    [InlineData("application/json", "{\"message\":\"first\"}\n{\"message\":\"second\"}\n", "the body holds more than one JSON value")]
    [InlineData("application/x-ndjson", "{\"message\":\"a\"}\n{\"message\":\"b\"} {\"message\":\"c\"}\n", "line 2 holds more than one JSON value")]
    public async Task A_body_that_cannot_be_read_is_refused_whole_with_400_and_the_reason(string contentType, string body, string reason)
    {
        await using var harness = await SourceHarness.StartHttpAsync();
        var (status, answer, _) = await PostAsync(harness, body, contentType);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith(reason, answer.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, harness.Stats.Accepted);
    }

    [Fact]
    public async Task Another_content_type_gets_415_and_a_body_over_the_limit_413()
    {
        await using var harness = await SourceHarness.StartHttpAsync(maxBodyBytes: 100);
        var (status, answer, _) = await PostAsync(harness, "a=1", "application/x-www-form-urlencoded");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Contains("text/plain", answer.GetProperty("error").GetString(), StringComparison.Ordinal);

        (status, answer, _) = await PostAsync(harness, new string('x', 101), "text/plain");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("over the limit of 100 bytes", answer.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, harness.Stats.Accepted);
    }

    [Fact]
    public async Task A_full_buffer_gets_503_with_retry_after_and_takes_nothing_of_the_request()
    {
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = await SourceHarness.StartHttpAsync(maxMessages: 5, sink: sink);
        var first = PostAsync(harness, "1\n2\n3", "text/plain"); // held: the sink is gated
        await Eventually.Until(() => harness.Buffer.Messages == 3, "the first request in the buffer");

        var (status, answer, response) = await PostAsync(harness, "4\n5\n6", "text/plain"); // 3 more do not fit in 5
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Contains("nothing was taken", answer.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(3, harness.Stats.Accepted);

        (status, answer, _) = await PostAsync(harness, "1\n2\n3\n4\n5\n6", "text/plain");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status); // six can never fit in five
        Assert.Contains("smaller requests", answer.GetProperty("error").GetString(), StringComparison.Ordinal);

        sink.Gate.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await first.WaitAsync(TestTimeouts.Wait, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(harness, "4\n5\n6", "text/plain")).Status);
        await harness.StopAsync();
        Assert.Equal(["1", "2", "3", "4", "5", "6"], sink.Stored);
    }

    [Fact]
    public async Task With_the_wait_policy_a_request_waits_for_room_instead_of_503()
    {
        var sink = new RecordingSink { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var harness = await SourceHarness.StartHttpAsync(maxMessages: 3, sink: sink, whenFull: FullPolicy.Wait);
        var first = PostAsync(harness, "1\n2\n3", "text/plain");
        await Eventually.Until(() => harness.Buffer.Messages == 3, "the first request in the buffer");
        var second = PostAsync(harness, "4\n5", "text/plain");

        sink.Gate.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await first.WaitAsync(TestTimeouts.Wait, Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await second.WaitAsync(TestTimeouts.Wait, Ct)).Status);
        Assert.Equal(["1", "2", "3", "4", "5"], sink.Stored);
    }
}
