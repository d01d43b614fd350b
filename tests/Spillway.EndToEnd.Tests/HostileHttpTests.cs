using System.Net;
using System.Net.Sockets;
using System.Text;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// Malformed requests against the built serve, over raw sockets: each gets its 4xx (or, when its client has gone, no
/// answer), none a 500; nothing of any is taken; a flood logs a line per reason, never a stack trace per request.
/// </summary>
public sealed class HostileHttpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Request, whether the client half-closes after sending it, and the status line expected (null: none, the client left).</summary>
    public static TheoryData<string, string, bool, string?> Malformed => new()
    {
        { "a chunk size past 2^63", Chunked("FFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n"), false, "HTTP/1.1 400" },
        { "a chunk size that is not hex", Chunked("zz\r\nabc\r\n0\r\n\r\n"), false, "HTTP/1.1 400" },
        { "a chunk without its CRLF", Chunked("3\r\nabcdef\r\n0\r\n\r\n"), false, "HTTP/1.1 400" },
        { "two JSON values in one body", Post("application/json", """{"message":"first"}{"message":"second"}"""), false, "HTTP/1.1 400" },
        { "a JSON value with bytes after it", Post("application/json", """{"message":"first"} x"""), false, "HTTP/1.1 400" },
        { "an NDJSON line of two objects", Post("application/x-ndjson", "{\"message\":\"a\"}\n{\"message\":\"b\"}{\"message\":\"c\"}\n"), false, "HTTP/1.1 400" },
        { "a body over the limit by its length", Post("text/plain", new string('x', 2048)), false, "HTTP/1.1 413" },
        { "a body over the limit, chunked", Chunked($"800\r\n{new string('x', 2048)}\r\n0\r\n\r\n"), false, "HTTP/1.1 413" },
        { "a content type not taken", Post("application/xml", "<a/>"), false, "HTTP/1.1 415" },
        { "a header line without a colon", "POST /ingest HTTP/1.1\r\nHost: x\r\nno colon here\r\nContent-Length: 1\r\n\r\nx", false, "HTTP/1.1 400" },
        { "a body shorter than its length, then the client leaves", Post("text/plain", "abc", contentLength: 10), true, null },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_request_gets_its_4xx_and_nothing_of_it_is_taken(string what, string request, bool halfClose, string? status)
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--http-max-body-bytes", "1KiB");
        var http = await serve.ListeningAsync("http");

        var answer = await RawAsync(http, request, halfClose);
        if (status is null)
        {
            Assert.True(answer.Length == 0 || !answer.StartsWith("HTTP/1.1 5", StringComparison.Ordinal), $"{what}: {answer}");
        }
        else
        {
            Assert.True(answer.StartsWith(status, StringComparison.Ordinal), $"{what}: expected {status}, got: {answer}");
        }

        // The service still answers, and took nothing.
        Assert.StartsWith("HTTP/1.1 200", await RawAsync(http, Post("text/plain", "after"), halfClose: false), StringComparison.Ordinal);
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(new SpillwayProcess.Summary(1, 1, 0, 0), serve.ReadSummary());
        Assert.DoesNotContain("fail:", serve.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", serve.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_flood_of_bad_chunked_bodies_writes_a_line_per_reason_not_a_line_per_request()
    {
        const int Requests = 1_000;
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var http = await serve.ListeningAsync("http");
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async worker =>
        {
            var codes = new List<string>();
            for (var i = worker; i < Requests; i += 8)
            {
                var bad = i % 2 == 0 ? "FFFFFFFFFFFFFFFF" : "zz";
                codes.Add((await RawAsync(http, Chunked($"{bad}\r\nabc\r\n0\r\n\r\n"), halfClose: false))[..12]);
            }

            return codes;
        }));
        Assert.All(answers.SelectMany(a => a), code => Assert.Equal("HTTP/1.1 400", code));

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(0, serve.ReadSummary().Accepted);
        var log = serve.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(log, l => l.Contains("bad-request", StringComparison.Ordinal));
        Assert.True(log.Length < 15, $"{log.Length} log lines for {Requests} bad requests:\n{serve.Error}");
    }

    [Fact]
    public async Task A_forced_stop_answers_waiting_requests_503_with_retry_after_never_500()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace,
            "--spill-dir", "none", "--http-when-full", "wait", "--max-buffer-messages", "5", "--batch-size", "5", "--batch-linger", "10ms");
        var http = await serve.ListeningAsync("http");

        // Another process's write lock holds the writer back: the first request's four messages wait to be stored; the
        // second's first message takes the buffer's last place, and the request waits for room (seen in /metrics, so
        // that the stop cannot come before it is in the service's hands).
        using var holder = workspace.Connect();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE";
            begin.ExecuteNonQuery();
        }

        var stored = RawAsync(http, Post("text/plain", "1\n2\n3\n4"), halfClose: false);
        await Eventually.Until(() => serve.Error.Contains("database is locked", StringComparison.Ordinal), "the writer to find the lock");
        var waiting = RawAsync(http, Post("text/plain", "6\n7\n8"), halfClose: false);
        using (var client = new HttpClient { BaseAddress = new Uri($"http://{http}/") })
        {
            await Eventually.Until(() => Scrape.Sum(client, "spillway_buffer_messages") == 5, "the second request to wait for room, one of its messages taken");
        }

        serve.Signal(SpillwayProcess.Sigterm);
        await Eventually.Until(() => serve.Error.Contains("SIGTERM received", StringComparison.Ordinal), "the first signal to be taken");
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(3, await serve.WaitForExitAsync());

        foreach (var answer in new[] { await stored, await waiting })
        {
            Assert.StartsWith("HTTP/1.1 503", answer, StringComparison.Ordinal);
            Assert.Contains("Retry-After:", answer, StringComparison.Ordinal);
        }

        Assert.Contains("1 of 3 messages were taken", await waiting, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", serve.Error, StringComparison.Ordinal);
    }


    private static string Post(string contentType, string body, int? contentLength = null) =>
        $"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: {contentType}\r\nContent-Length: {contentLength ?? Encoding.UTF8.GetByteCount(body)}\r\n" +
        $"Connection: close\r\n\r\n{body}";

    private static string Chunked(string body) =>
        $"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}";

    /// <summary>Sends a request as written and reads until the server closes (or 10 s pass): the answer as text.</summary>
    private static async Task<string> RawAsync(IPEndPoint endpoint, string request, bool halfClose)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, Ct);
        await socket.SendAsync(Encoding.UTF8.GetBytes(request), Ct);
        if (halfClose)
        {
            socket.Shutdown(SocketShutdown.Send);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, timeout.Token)) > 0)
            {
                answer.Write(buffer, 0, read);
            }
        }
        catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !Ct.IsCancellationRequested))
        {
            // A reset, or a server that holds the connection: what came before it is the answer.
        }

        return Encoding.UTF8.GetString(answer.ToArray());
    }
}
