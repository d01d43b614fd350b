using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>The explicit limits at the edges, each reached against the built serve and counted in /metrics.</summary>
public sealed class LimitsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Connections_past_the_listeners_limit_are_closed_at_once_and_counted_and_the_others_go_on()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--tcp-max-connections", "3");
        var tcp = await serve.ListeningAsync("tcp");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };

        var held = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            held.Add(await ConnectAsync(tcp));
        }

        await Eventually.Until(() => Scrape.Sum(client, "spillway_connections_open") == 3, "three connections open");
        using (var refused = await ConnectAsync(tcp))
        {
            Assert.Equal(0, await ReceiveAsync(refused)); // closed by serve without a byte
        }

        await Eventually.Until(() => Scrape.Sum(client, "spillway_connections_refused_total") == 1, "the refusal counted");
        foreach (var (socket, i) in held.Select((s, i) => (s, i)))
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes($"<13>held {i}\n"), Ct);
            socket.Dispose();
        }

        await Eventually.Until(() => workspace.Count("messages") == 3, "the held connections' messages");
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Contains("connection-limit", serve.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_quiet_past_the_idle_timeout_is_closed_its_unfinished_line_kept_as_a_reject()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--tcp-idle-timeout", "300ms");
        var tcp = await serve.ListeningAsync("tcp");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };

        using var socket = await ConnectAsync(tcp);
        await socket.SendAsync("<13>whole\n<13>unfinished"u8.ToArray(), Ct);
        Assert.Equal(0, await ReceiveAsync(socket)); // serve closes it once quiet for 300 ms

        await Eventually.Until(() => workspace.Count("messages") == 1 && workspace.Count("rejects") == 1, "the line and the reject");
        Assert.Equal(["truncated"], workspace.RejectReasons());
        Assert.Equal(1, Scrape.Sum(client, "spillway_connections_idle_closed_total"));
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
    }

    [Fact]
    public async Task A_request_past_the_bodies_in_flight_is_answered_503_before_its_body_is_read()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--http-max-body-bytes", "1KiB", "--http-max-body-bytes-in-flight", "1KiB");
        var http = await serve.ListeningAsync("http");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{http}/") };

        // Two requests announce a body of 1 KiB each and send 10 bytes of it: both cannot be in flight at once, so whichever
        // serve reads second is answered 503 at once, before its body; the other waits for the rest of its body.
        var body = new string('x', 1023) + "\n";
        var head = Encoding.ASCII.GetBytes(
            $"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body[..10]}");
        using var first = await ConnectAsync(http);
        using var second = await ConnectAsync(http);
        await first.SendAsync(head, Ct);
        await second.SendAsync(head, Ct);
        var answers = new[] { AnswerAsync(first), AnswerAsync(second) };
        var refused = await Task.WhenAny(answers).WaitAsync(TestTimeouts.Wait, Ct);
        Assert.StartsWith("HTTP/1.1 503", await refused, StringComparison.Ordinal);
        Assert.Contains("Retry-After:", await refused, StringComparison.Ordinal);
        Assert.Equal(1, Scrape.Sum(client, "spillway_http_requests_refused_total"));

        var admitted = refused == answers[0] ? second : first;
        // The refused client stays, its body never sent: serve cuts it off after a short linger, and it holds no stop up.
        await admitted.SendAsync(Encoding.ASCII.GetBytes(body[10..]), Ct);
        Assert.StartsWith("HTTP/1.1 200", await answers[refused == answers[0] ? 1 : 0], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, Post(client, "third\n"));
        await Eventually.Until(() => workspace.Count("messages") == 2, "the admitted request's line and the third");
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(2, serve.ReadSummary().Accepted);
    }

    [Fact]
    public async Task An_idle_connection_holds_no_read_buffer()
    {
        const int Connections = 5_000;
        const double BoundKiB = 6; // measured 3.8 KiB (docs/operations.md); the rest is room for the GC's own choices
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");
        using var client = new HttpClient { BaseAddress = new Uri($"http://{await serve.ListeningAsync("http")}/") };
        Scrape.Sum(client, "spillway_connections_open"); // the metrics endpoint's own first-call cost, before the baseline
        var before = serve.ResidentBytes();

        var sockets = new List<Socket>(Connections);
        try
        {
            for (var i = 0; i < Connections; i++)
            {
                sockets.Add(await ConnectAsync(tcp));
            }

            await Eventually.Until(() => Scrape.Sum(client, "spillway_connections_open") == Connections, "every connection accepted",
                TimeSpan.FromSeconds(60));
            var perConnection = (serve.ResidentBytes() - before) / 1024.0 / Connections;
            Assert.True(perConnection < BoundKiB,
                string.Create(CultureInfo.InvariantCulture, $"{perConnection:0.00} KiB per idle connection (bound {BoundKiB} KiB)"));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
    }


    private static HttpStatusCode Post(HttpClient client, string text)
    {
        using var content = new StringContent(text, Encoding.UTF8, "text/plain");
        return client.PostAsync("ingest", content, Ct).GetAwaiter().GetResult().StatusCode;
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, Ct);
        return socket;
    }

    /// <summary>Reads an answer's first bytes as text, with a timeout so that a missing answer fails instead of hanging.</summary>
    private static async Task<string> AnswerAsync(Socket socket)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TestTimeouts.Wait);
        var buffer = new byte[512];
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    /// <summary>Reads once, with a timeout so that a server that never closes fails the test instead of hanging it.</summary>
    private static async Task<int> ReceiveAsync(Socket socket)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TestTimeouts.Wait);
        try
        {
            return await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token);
        }
        catch (SocketException)
        {
            return 0; // reset: closed all the same
        }
    }
}
