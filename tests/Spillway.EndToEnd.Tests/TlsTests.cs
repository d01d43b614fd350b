using System.Globalization;
using System.Text.Json;
using Spillway.Testing;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// TLS on the running CLI with the clients operators have: certificates made by <c>openssl</c>, rsyslog forwarding
/// over both of Debian's TLS stream drivers, <c>openssl s_client</c>, Python's <c>ssl</c> and <c>curl</c>. Each
/// refusal is checked by its reason in <c>/metrics</c>, each message accepted is stored once.
/// </summary>
public sealed class TlsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Real_clients_are_served_over_tls_and_https_and_refused_for_the_right_reasons()
    {
        using var workspace = new Workspace();
        var ca = await OpenSslCa.CreateAsync(workspace.Directory);
        await using var serve = ServeTests.StartServe(workspace, "--listen-tls", "127.0.0.1:0", "--listen-https", "127.0.0.1:0",
            "--tls-cert", ca.ServerCertificate, "--tls-key", ca.ServerKey, "--tls-client-ca", ca.CaCertificate, "--tls-allowed-peer", "*.example.com");
        var tls = await serve.ListeningAsync("tls");
        var https = await serve.ListeningAsync("https");
        var http = await serve.ListeningAsync("http");

        // Served: an allowed peer with s_client (syslog, two framings in one stream) and with curl (HTTPS).
        var sent = await Tools.RunAsync("openssl", ["s_client", "-connect", tls.ToString(), "-CAfile", ca.CaCertificate, "-cert", ca.Client("relay1.example.com").Certificate,
            "-key", ca.Client("relay1.example.com").Key, "-brief"], "<13>s_client line\n20 <13>s_client counted");
        Assert.True(sent.ExitCode == 0, sent.Output);
        var curl = await Tools.RunAsync("curl", ["-sS", "--fail", "--cacert", ca.CaCertificate, "--cert", ca.Client("relay1.example.com").Certificate,
            "--key", ca.Client("relay1.example.com").Key, "-H", "Content-Type: text/plain", "--data-binary", "curl over https", $"https://localhost:{https.Port}/ingest"]);
        Assert.True(curl.ExitCode == 0, curl.Output);
        Assert.Contains("\"accepted\":1", curl.Output, StringComparison.Ordinal);

        // Refused: TLS 1.0 and 1.1, no client certificate, a certificate of another CA, a peer not allowed, plain text.
        var tls11 = await Tools.RunAsync("openssl", ["s_client", "-connect", tls.ToString(), "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-brief"], "");
        Assert.NotEqual(0, tls11.ExitCode);
        Assert.StartsWith("refused", await Python(tls.Port, ca, tls10: true), StringComparison.Ordinal);
        Assert.StartsWith("refused", await Python(tls.Port, ca), StringComparison.Ordinal);
        Assert.StartsWith("refused", await Python(tls.Port, ca, client: ca.Foreign), StringComparison.Ordinal);
        Assert.StartsWith("refused", await Python(tls.Port, ca, client: ca.Client("relay1.example.org")), StringComparison.Ordinal);
        Assert.StartsWith("refused", await Python(tls.Port, ca, plain: true), StringComparison.Ordinal);
        var noCertificate = await Tools.RunAsync("curl", ["-sS", "--cacert", ca.CaCertificate, "--data-binary", "x", $"https://localhost:{https.Port}/ingest"]);
        Assert.NotEqual(0, noCertificate.ExitCode);

        using var client = new HttpClient { Timeout = TestTimeouts.Wait };
        var refused = await Eventually.ValueAsync(async () => Refusals(await client.GetStringAsync(new Uri($"http://{http}/metrics"), Ct)),
            r => r.Values.Sum() == 7, "seven refusals in /metrics");
        Assert.Equal(new Dictionary<string, long>
        {
            ["tls/protocol-version"] = 2, ["tls/no-client-certificate"] = 1, ["tls/untrusted-client-certificate"] = 1,
            ["tls/peer-not-allowed"] = 1, ["tls/not-tls"] = 1, ["https/no-client-certificate"] = 1,
        }, refused);

        // The TLS metrics served are those the operator's list gives.
        var served = (await client.GetStringAsync(new Uri($"http://{http}/metrics"), Ct)).Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, "^(spillway_tls_[a-z_]+)[{ ]"))
            .Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Equal(ObservabilityTests.Documented().Where(n => n.StartsWith("spillway_tls_", StringComparison.Ordinal)).Order(), served.Order());

        await Eventually.Until(() => workspace.Count("messages") >= 3, "the three messages served");
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Equal(new SpillwayProcess.Summary(3, 3, 0, 0), serve.ReadSummary());
        var rows = workspace.MessageRows().ToDictionary(r => (string)r["message"]!, r => ((string)r["source"]!, (string?)r["client"]));
        const string Relay = "CN=relay1.example.com";
        Assert.Equal(new Dictionary<string, (string, string?)>
        {
            ["s_client line"] = ("tls", Relay), ["s_client counted"] = ("tls", Relay), ["curl over https"] = ("https", Relay),
        }, rows);
    }

    [Fact]
    public async Task Spillway_send_sends_over_mutual_tls_and_what_it_sends_without_its_certificate_is_not_stored()
    {
        using var workspace = new Workspace();
        var ca = await OpenSslCa.CreateAsync(workspace.Directory);
        await using var serve = ServeTests.StartServe(workspace, "--listen-tls", "127.0.0.1:0", "--tls-cert", ca.ServerCertificate, "--tls-key", ca.ServerKey,
            "--tls-client-ca", ca.CaCertificate, "--batch-linger", "10ms");
        var tls = await serve.ListeningAsync("tls");
        var (certificate, key) = ca.Client("relay1.example.com");

        await using (var send = SpillwayProcess.StartBench(workspace.Directory,
            ["send", "--tcp", tls.ToString(), "--tls-ca", ca.CaCertificate, "--tls-cert", certificate, "--tls-key", key, "-n", "500", "-c", "2"]))
        {
            Assert.True(await send.WaitForExitAsync() == 0, send.Error);
            Assert.StartsWith("sent 500 messages", Assert.Single(send.OutputLines), StringComparison.Ordinal);
            Assert.Contains($"to tls {tls}", send.OutputLines[0], StringComparison.Ordinal);
        }

        // Without a certificate: TLS 1.3 tells a client its certificate was wanted only after its side of the handshake,
        // so the send may fail or may write into a connection the server closes; either way none of it is stored (below).
        await using (var refused = SpillwayProcess.StartBench(workspace.Directory, ["send", "--tcp", tls.ToString(), "--tls-ca", ca.CaCertificate, "-n", "10"]))
        {
            await refused.WaitForExitAsync();
        }

        await using (var wrongName = SpillwayProcess.StartBench(workspace.Directory,
            ["send", "--tcp", tls.ToString(), "--tls-ca", ca.CaCertificate, "--tls-name", "logs.example.net", "--tls-cert", certificate, "--tls-key", key, "-n", "10"]))
        {
            Assert.Equal(1, await wrongName.WaitForExitAsync()); // the server's certificate is for localhost and 127.0.0.1
            Assert.Contains("TLS handshake", wrongName.Error, StringComparison.Ordinal);
        }

        await Eventually.Until(() => workspace.Count("messages") >= 500, "the 500 messages sent with the certificate");
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        var rows = workspace.MessageRows();
        Assert.Equal(500, rows.Count);
        Assert.All(rows, r => Assert.Equal(("tls", "CN=relay1.example.com"), ((string)r["source"]!, (string?)r["client"])));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rsyslog_forwards_over_tls_with_both_stream_drivers_and_every_message_is_stored_once(bool mutual)
    {
        const int Messages = 200;
        using var workspace = new Workspace();
        var ca = await OpenSslCa.CreateAsync(workspace.Directory);
        string[] clientCa = mutual ? ["--tls-client-ca", ca.CaCertificate, "--tls-allowed-peer", "relay1.example.com"] : [];
        await using var serve = ServeTests.StartServe(workspace, ["--listen-tls", "127.0.0.1:0", "--tls-cert", ca.ServerCertificate, "--tls-key", ca.ServerKey, .. clientCa]);
        var tls = await serve.ListeningAsync("tls");

        foreach (var driver in new[] { "gtls", "ossl" })
        {
            var directory = Directory.CreateDirectory(Path.Combine(workspace.Directory, "rsyslog-" + driver)).FullName;
            var (certificate, key) = ca.Client("relay1.example.com");
            var config = Path.Combine(directory, "rsyslog.conf");
            // The relay's own certificate is offered in both modes; only mutual TLS asks for it. The server's name is checked (x509/name).
            await File.WriteAllTextAsync(config, $"""
                global(workDirectory="{directory}" defaultNetstreamDriverCAFile="{ca.CaCertificate}"
                       defaultNetstreamDriverCertFile="{certificate}" defaultNetstreamDriverKeyFile="{key}")
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="{directory}/port")
                action(type="omfwd" target="127.0.0.1" port="{tls.Port}" protocol="tcp" template="RSYSLOG_SyslogProtocol23Format"
                       streamDriver="{driver}" streamDriverMode="1" streamDriverAuthMode="x509/name" streamDriverPermittedPeers="localhost"
                       action.resumeRetryCount="-1")
                """, Ct);
            using var rsyslog = Tools.Start("/usr/sbin/rsyslogd", ["-n", "-f", config, "-i", Path.Combine(directory, "rsyslogd.pid")]);
            try
            {
                var portFile = Path.Combine(directory, "port");
                await Eventually.Until(() => File.Exists(portFile) && new FileInfo(portFile).Length > 0 || rsyslog.HasExited, "rsyslogd to listen");
                if (rsyslog.HasExited)
                {
                    Assert.Fail($"rsyslogd exited {rsyslog.ExitCode}: {await rsyslog.StandardError.ReadToEndAsync(Ct)}");
                }

                var port = int.Parse((await File.ReadAllTextAsync(portFile, Ct)).Trim(), CultureInfo.InvariantCulture);

                // rsyslogd writes the port file as it binds, which can come before it accepts (logger once found the port refused).
                await Eventually.Until(() => LoopbackPorts.Accepts(port), "rsyslogd to accept on its port");
                var lines = string.Concat(Enumerable.Range(0, Messages).Select(i => $"{driver} mutual={mutual} seq={i:D4}\n"));
                var logger = await Tools.RunAsync("logger", ["-n", "127.0.0.1", "-P", $"{port}", "--tcp", "-t", "relayed"], lines);
                Assert.True(logger.ExitCode == 0, logger.Output);
                await Eventually.Until(() => workspace.Messages().Count(m => m.StartsWith(driver + " ", StringComparison.Ordinal)) >= Messages,
                    $"the {Messages} messages rsyslog ({driver}) forwards");
            }
            finally
            {
                rsyslog.Kill();
                await rsyslog.WaitForExitAsync(Ct).WaitAsync(TestTimeouts.Wait, Ct);
            }
        }

        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        var rows = workspace.MessageRows();
        foreach (var driver in new[] { "gtls", "ossl" })
        {
            var mine = rows.Where(r => ((string)r["message"]!).StartsWith(driver + " ", StringComparison.Ordinal)).ToList();
            Assert.Equal(Enumerable.Range(0, Messages).Select(i => $"{driver} mutual={mutual} seq={i:D4}"), mine.Select(r => (string)r["message"]!).Order());
            Assert.All(mine, r => Assert.Equal(("tls", "relayed"), ((string)r["source"]!, (string)r["app_name"]!)));
            // Who sent it: the relay's certificate under mutual TLS, nobody said otherwise.
            Assert.All(mine, r => Assert.Equal(mutual ? "CN=relay1.example.com" : null, (string?)r["client"]));
        }
    }

    [Fact]
    public async Task Certificates_replaced_on_disk_are_presented_at_the_next_handshake_and_a_broken_one_keeps_the_last_and_shows_in_health()
    {
        using var workspace = new Workspace();
        var ca = await OpenSslCa.CreateAsync(workspace.Directory);
        await using var serve = ServeTests.StartServe(workspace, "--listen-tls", "127.0.0.1:0", "--tls-cert", ca.ServerCertificate, "--tls-key", ca.ServerKey);
        var tls = await serve.ListeningAsync("tls");
        var http = await serve.ListeningAsync("http");
        Assert.Equal("CN = localhost", await PresentedSubjectAsync(tls.ToString(), ca));

        // Replaced as deploy hooks do: the new pair written aside, then renamed over the old one.
        var (certificate, key) = await ca.ServerAsync("rotated", "localhost-rotated");
        File.Move(key, ca.ServerKey, overwrite: true);
        File.Move(certificate, ca.ServerCertificate, overwrite: true);
        await Eventually.ValueAsync(() => PresentedSubjectAsync(tls.ToString(), ca), s => s == "CN = localhost-rotated", "the rotated certificate");

        // A broken file keeps the certificate in force; /health says so; SIGHUP reads it again (and does not end serve).
        await File.WriteAllTextAsync(ca.ServerCertificate, "not a certificate\n", Ct);
        serve.Signal(SpillwayProcess.Sighup);
        using var client = new HttpClient { Timeout = TestTimeouts.Wait };
        var health = await Eventually.ValueAsync(async () => await client.GetStringAsync(new Uri($"http://{http}/health"), Ct),
            h => h.Contains("holds no PEM certificate", StringComparison.Ordinal), "the reload failure in /health");
        using (var json = JsonDocument.Parse(health))
        {
            Assert.Equal("degraded", json.RootElement.GetProperty("status").GetString());
            Assert.Equal("CN=localhost-rotated", json.RootElement.GetProperty("tls").GetProperty("subject").GetString());
        }

        Assert.Equal("CN = localhost-rotated", await PresentedSubjectAsync(tls.ToString(), ca));
        Assert.False(serve.HasExited);
        serve.Signal(SpillwayProcess.Sigterm);
        Assert.Equal(0, await serve.WaitForExitAsync());
        Assert.Contains("SIGHUP received", serve.Error, StringComparison.Ordinal);
    }

    private static async Task<string> PresentedSubjectAsync(string endpoint, OpenSslCa ca)
    {
        var result = await Tools.RunAsync("openssl", ["s_client", "-connect", endpoint, "-CAfile", ca.CaCertificate], "");
        return result.Output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("subject=", StringComparison.Ordinal))?["subject=".Length..]
            ?? $"(no subject in: {result.Output})";
    }

    /// <summary>spillway_tls_handshakes_refused_total's non-zero series, as "source/reason" and count.</summary>
    private static Dictionary<string, long> Refusals(string metrics) =>
        metrics.Split('\n')
            .Where(l => l.StartsWith("spillway_tls_handshakes_refused_total{", StringComparison.Ordinal))
            .Select(l => (Labels: l[(l.IndexOf('{', StringComparison.Ordinal) + 1)..l.IndexOf('}', StringComparison.Ordinal)], Value: long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)))
            .Where(s => s.Value > 0)
            .ToDictionary(s => $"{Label(s.Labels, "source")}/{Label(s.Labels, "reason")}", s => s.Value);

    private static string Label(string labels, string name) =>
        labels.Split(',').Select(p => p.Split('=')).Single(p => p[0] == name)[1].Trim('"');

    private static async Task<string> Python(int port, OpenSslCa ca, bool tls10 = false, bool plain = false, (string Certificate, string Key)? client = null)
    {
        var options = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["port"] = port, ["ca"] = ca.CaCertificate, ["tls10"] = tls10, ["plain"] = plain, ["cert"] = client?.Certificate, ["key"] = client?.Key,
        });
        var result = await Tools.RunAsync("python3", ["-c", PythonClient, options]);
        Assert.True(result.ExitCode == 0, result.Output);
        return result.Output.Trim();
    }

    /// <summary>
    /// Connects, sends a line and reads: "open" when the server keeps the connection, "refused ..." when it closes it
    /// (in TLS 1.3 a refused client certificate shows at the first read after the handshake).
    /// </summary>
    private const string PythonClient = """
        import json, socket, ssl, sys
        o = json.loads(sys.argv[1])
        try:
            s = socket.create_connection(("127.0.0.1", o["port"]), timeout=20)
            if not o["plain"]:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.load_verify_locations(o["ca"])
                if o["tls10"]:
                    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                    ctx.minimum_version = ssl.TLSVersion.TLSv1
                    ctx.maximum_version = ssl.TLSVersion.TLSv1
                if o["cert"]:
                    ctx.load_cert_chain(o["cert"], o["key"])
                s = ctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(b"<13>python line\n")
            print("refused: closed" if s.recv(1) == b"" else "open")
        except (ssl.SSLError, ConnectionError) as e:
            print("refused:", type(e).__name__, e)
        """;
}

/// <summary>A test CA made with openssl, as docs/operations.md tells an operator to: a server certificate and client certificates.</summary>
internal sealed class OpenSslCa
{
    private readonly string _directory;
    private readonly Dictionary<string, (string, string)> _clients = [];

    private OpenSslCa(string directory) => _directory = directory;

    public string CaCertificate => Path.Combine(_directory, "ca.crt");

    public string ServerCertificate => Path.Combine(_directory, "server.crt");

    public string ServerKey => Path.Combine(_directory, "server.key");

    /// <summary>A client certificate of another CA, self-signed.</summary>
    public (string Certificate, string Key) Foreign { get; private set; }

    public (string Certificate, string Key) Client(string name) => _clients[name];

    public static async Task<OpenSslCa> CreateAsync(string workspace)
    {
        var ca = new OpenSslCa(Directory.CreateDirectory(Path.Combine(workspace, "tls")).FullName);
        await ca.OpenSslAsync("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "30", "-subj", "/CN=Spillway Test CA", "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        await ca.ServerAsync("server", "localhost");
        foreach (var name in new[] { "relay1.example.com", "relay1.example.org" })
        {
            ca._clients[name] = await ca.SignAsync(name, name, "clientAuth", $"DNS:{name}");
        }

        await ca.OpenSslAsync("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "foreign.key", "-out", "foreign.crt",
            "-days", "30", "-subj", "/CN=relay9.example.com");
        ca.Foreign = (Path.Combine(ca._directory, "foreign.crt"), Path.Combine(ca._directory, "foreign.key"));
        return ca;
    }

    /// <summary>Makes a server certificate for localhost named <paramref name="file"/>.crt/.key; returns the paths.</summary>
    public Task<(string Certificate, string Key)> ServerAsync(string file, string commonName) =>
        SignAsync(file, commonName, "serverAuth", "DNS:localhost,IP:127.0.0.1");

    private async Task<(string, string)> SignAsync(string file, string commonName, string usage, string names)
    {
        var extensions = Path.Combine(_directory, file + ".ext");
        await File.WriteAllTextAsync(extensions, $"basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\nsubjectAltName={names}\n");
        await OpenSslAsync("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", file + ".key", "-out", file + ".csr",
            "-subj", $"/CN={commonName}");
        await OpenSslAsync("x509", "-req", "-in", file + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", file + ".crt",
            "-days", "30", "-extfile", extensions);
        return (Path.Combine(_directory, file + ".crt"), Path.Combine(_directory, file + ".key"));
    }

    private async Task OpenSslAsync(params string[] args)
    {
        var result = await Tools.RunAsync("openssl", args, workingDirectory: _directory);
        Assert.True(result.ExitCode == 0, $"openssl {string.Join(' ', args)}: {result.Output}");
    }}
