using System.Net;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// The senders operators already run, pointed at the running CLI: util-linux <c>logger</c> over TCP and UDP in
/// both syslog formats and both TCP framings, and Python's <c>logging.handlers.SysLogHandler</c> over UDP and TCP
/// (which ends each TCP message with a NUL, not an LF). Each lands with its columns filled.
/// </summary>
public sealed class RealSendersTests
{
    private static readonly string Host = Dns.GetHostName();

    [Fact]
    public async Task Logger_and_python_land_with_the_right_columns()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace);
        var tcp = await serve.ListeningAsync("tcp");
        var udp = await serve.ListeningAsync("udp");
        var run = Guid.NewGuid().ToString("N")[..8];

        string[] Logger(IPEndPoint endpoint, string transport, params string[] options) =>
            ["-n", "127.0.0.1", "-P", $"{endpoint.Port}", transport, "-t", "spill", "--id=4242", "-p", "local3.warning", .. options];

        await RunAsync("logger", [.. Logger(tcp, "--tcp", "--rfc5424", "--msgid", "ID42"), $"{run} tcp rfc5424 lf"]);
        await RunAsync("logger", [.. Logger(tcp, "--tcp", "--rfc5424", "--octet-count"), $"{run} tcp rfc5424 octet"]);
        await RunAsync("logger", [.. Logger(tcp, "--tcp", "--rfc3164"), $"{run} tcp rfc3164"]);
        await RunAsync("logger", [.. Logger(udp, "--udp", "--rfc5424"), $"{run} udp rfc5424"]);
        await RunAsync("logger", [.. Logger(udp, "--udp", "--rfc3164"), $"{run} udp rfc3164"]);
        await RunAsync("python3", ["-c", PythonSender, $"{udp.Port}", "udp", $"{run} python udp"]);
        await RunAsync("python3", ["-c", PythonSender, $"{tcp.Port}", "tcp", $"{run} python tcp one", $"{run} python tcp two"]);

        await Eventually.Until(() => workspace.Count("messages") >= 8, "all eight messages");
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(new SpillwayProcess.Summary(8, 8, 0, 0), serve.ReadSummary());

        var rows = workspace.MessageRows().ToDictionary(r => (string)r["message"]!);
        void Expect(string message, string source, long facility, long severity, string? hostname, string? app, string? procId, string? msgId,
            bool timestamp, bool structuredData)
        {
            Assert.True(rows.TryGetValue($"{run} {message}", out var row), $"no row for '{message}' in: {string.Join(" | ", rows.Keys)}");
            Assert.Equal(source, row["source"]);
            Assert.Equal(facility, row["facility"]);
            Assert.Equal(severity, row["severity"]);
            Assert.Equal(hostname, row["hostname"]);
            Assert.Equal(app, row["app_name"]);
            Assert.Equal(procId, row["proc_id"]);
            Assert.Equal(msgId, row["msg_id"]);
            Assert.Equal(timestamp, row["timestamp"] is not null);
            Assert.Equal(structuredData, row["structured_data"] is string sd && sd.StartsWith('['));
            Assert.StartsWith("127.0.0.1:", (string)row["peer"]!, StringComparison.Ordinal);
        }

        // local3 is facility 19, warning is severity 4.
        Expect("tcp rfc5424 lf", "tcp", 19, 4, Host, "spill", "4242", "ID42", timestamp: true, structuredData: true);
        Expect("tcp rfc5424 octet", "tcp", 19, 4, Host, "spill", "4242", null, timestamp: true, structuredData: true);
        Expect("tcp rfc3164", "tcp", 19, 4, Host, "spill", "4242", null, timestamp: true, structuredData: false);
        Expect("udp rfc5424", "udp", 19, 4, Host, "spill", "4242", null, timestamp: true, structuredData: true);
        Expect("udp rfc3164", "udp", 19, 4, Host, "spill", "4242", null, timestamp: true, structuredData: false);

        // SysLogHandler sends "<PRI>ident: message" with no timestamp or hostname; local3.warning again.
        Expect("python udp", "udp", 19, 4, null, "pyapp", null, null, timestamp: false, structuredData: false);
        Expect("python tcp one", "tcp", 19, 4, null, "pyapp", null, null, timestamp: false, structuredData: false);
        Expect("python tcp two", "tcp", 19, 4, null, "pyapp", null, null, timestamp: false, structuredData: false);
    }

    [Fact]
    public async Task Without_the_spill_log_an_http_post_is_answered_once_stored_and_counted_in_the_summary()
    {
        using var workspace = new Workspace();
        await using var serve = ServeTests.StartServe(workspace, "--spill-dir", "none");
        var http = await serve.ListeningAsync("http");
        using var client = new HttpClient { Timeout = TestTimeouts.Wait };

        using var text = new StringContent("one\n<13>Nov 25 02:14:18 vm cron[8]: two\n", System.Text.Encoding.UTF8, "text/plain");
        var response = await client.PostAsync(new Uri($"http://{http}/ingest"), text, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{\"accepted\":2,\"rejected\":0}", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal(2, workspace.Count("messages")); // answered only after the commit

        using var json = new StringContent("{\"message\":\"three\",\"app_name\":\"api\",\"severity\":2}", System.Text.Encoding.UTF8, "application/json");
        response = await client.PostAsync(new Uri($"http://{http}/ingest"), json, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(new SpillwayProcess.Summary(3, 3, 0, 0), serve.ReadSummary());
        var rows = workspace.MessageRows();
        Assert.Equal(["one", "two", "three"], rows.Select(r => (string)r["message"]!));
        Assert.Equal("cron", rows[1]["app_name"]);
        Assert.Equal("api", rows[2]["app_name"]);
        Assert.Equal(2L, rows[2]["severity"]);
        Assert.All(rows, r => Assert.Equal("http", r["source"]));
    }

    /// <summary>Python's standard SysLogHandler, as an application would configure it.</summary>
    private const string PythonSender = """
        import logging, logging.handlers, socket, sys
        port, transport, messages = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
        handler = logging.handlers.SysLogHandler(
            address=("127.0.0.1", port), facility=logging.handlers.SysLogHandler.LOG_LOCAL3,
            socktype=socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM)
        handler.ident = "pyapp: "
        log = logging.getLogger("spillway-test")
        log.addHandler(handler)
        for message in messages:
            log.warning(message)
        handler.close()
        """;

    private static async Task RunAsync(string program, string[] args)
    {
        var (exitCode, output) = await Tools.RunAsync(program, args);
        Assert.True(exitCode == 0, $"{program} {string.Join(' ', args)} exited {exitCode}: {output}");
    }
}
