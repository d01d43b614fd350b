using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Testing;
using Spillway.Tls;

namespace Spillway.Sources.Tests;

/// <summary>
/// Syslog over TLS through the real TCP source and .NET's own TLS client: framing inside the stream, mutual TLS with
/// each refusal counted by its reason, and certificates rotated under an open connection.
/// </summary>
public sealed class TlsSourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Frames_of_every_framing_arrive_whole_through_tls_from_concurrent_connections()
    {
        using var certificates = new TestCertificates();
        using var tls = Store(certificates);
        await using var harness = SourceHarness.StartTls(tls);
        const int Connections = 8;
        const int PerConnection = 400;
        var random = new Random(17);
        var seeds = Enumerable.Range(0, Connections).Select(_ => random.Next()).ToArray();

        await Task.WhenAll(Enumerable.Range(0, Connections).Select(c => Task.Run(async () =>
        {
            var rng = new Random(seeds[c]);
            await using var client = await ConnectAsync(harness, certificates.Ca);
            var bytes = new List<byte>();
            for (var i = 0; i < PerConnection; i++)
            {
                var text = $"<13>conn={c:D2} seq={i:D5} {new string('t', rng.Next(0, 300))}";
                bytes.AddRange(Encoding.UTF8.GetBytes(rng.Next(2) == 0 ? $"{Encoding.UTF8.GetByteCount(text)} {text}" : text + "\n"));
            }

            // Writes of random sizes, so frames straddle TLS records in every way.
            var all = bytes.ToArray();
            for (var offset = 0; offset < all.Length;)
            {
                var n = Math.Min(rng.Next(1, 5000), all.Length - offset);
                await client.WriteAsync(all.AsMemory(offset, n), Ct);
                offset += n;
            }

            await client.ShutdownAsync();
        }, Ct))).WaitAsync(TestTimeouts.Wait, Ct);

        await Eventually.Until(() => harness.Stats.Stored == Connections * PerConnection, "every message to be stored");
        await harness.StopAsync();
        var byConnection = harness.Sink.Stored.GroupBy(m => m[..7]).ToDictionary(g => g.Key, g => g.Select(m => m[8..17]).ToList());
        Assert.Equal(Connections, byConnection.Count);
        Assert.All(byConnection.Values, seqs => Assert.Equal(Enumerable.Range(0, PerConnection).Select(i => $"seq={i:D5}"), seqs));
        Assert.Equal(0, harness.Stats.Rejected);
        Assert.Empty(harness.TcpLimits.HandshakesRefused);
    }

    [Fact]
    public async Task Plain_text_on_the_tls_port_is_closed_counted_as_not_tls_and_nothing_of_it_is_stored()
    {
        using var certificates = new TestCertificates();
        using var tls = Store(certificates);
        await using var harness = SourceHarness.StartTls(tls);
        using (var socket = await harness.ConnectAsync())
        {
            await socket.SendAsync("<13>plain text where TLS was expected\n"u8.ToArray(), SocketFlags.None, Ct);
            var buffer = new byte[16];
            Assert.Equal(0, await ReadToCloseAsync(socket, buffer));
        }

        await Eventually.Until(() => harness.TcpLimits.HandshakesRefused.GetValueOrDefault(TlsHandshake.NotTls) == 1, "the refusal to be counted");
        await harness.StopAsync();
        Assert.Empty(harness.Sink.Stored);
        Assert.Equal(0, harness.Stats.Accepted);
    }

    [Fact]
    public async Task A_client_that_connects_and_never_starts_the_handshake_is_closed_at_the_timeout_and_counted()
    {
        using var certificates = new TestCertificates();
        using var tls = Store(certificates, o => o with { HandshakeTimeout = TimeSpan.FromMilliseconds(200) });
        await using var harness = SourceHarness.StartTls(tls);
        using var silent = await harness.ConnectAsync();
        Assert.Equal(0, await ReadToCloseAsync(silent, new byte[1]));
        await Eventually.Until(() => harness.TcpLimits.HandshakesRefused.GetValueOrDefault(TlsHandshake.Timeout) == 1, "the timeout to be counted");
        await harness.StopAsync();
        Assert.Equal(0, harness.Stats.Accepted);
    }

    [Fact]
    public async Task Mutual_tls_lets_in_an_allowed_peer_and_counts_each_refusal_by_its_reason()
    {
        using var certificates = new TestCertificates();
        var caPath = certificates.WriteCa("client-ca", certificates.Ca);
        using var tls = Store(certificates, o => o with { ClientCaPath = caPath, AllowedPeers = ["*.example.com"] });
        await using var harness = SourceHarness.StartTls(tls);
        using var stranger = TestCertificates.MakeCa("Someone Else's CA");
        using var allowed = certificates.Leaf("relay1.example.com");
        using var notAllowed = certificates.Leaf("relay1.example.org", ["relay1.example.org", "a.b.example.com"]);
        using var foreign = certificates.Leaf("relay2.example.com", issuer: stranger);

        await SendAsync(harness, certificates.Ca, allowed, "<13>from the allowed peer\n");
        Assert.False(await TrySendAsync(harness, certificates.Ca, null, "<13>no certificate\n"));
        Assert.False(await TrySendAsync(harness, certificates.Ca, notAllowed, "<13>not allowed\n"));
        Assert.False(await TrySendAsync(harness, certificates.Ca, foreign, "<13>foreign CA\n"));

        await Eventually.Until(() => harness.TcpLimits.HandshakesRefused.Values.Sum() == 3 && harness.Stats.Stored == 1, "three refusals, one message");
        await harness.StopAsync();
        Assert.Equal(["from the allowed peer"], harness.Sink.Stored);
        Assert.Equal(new Dictionary<string, long>
        {
            [TlsHandshake.NoClientCertificate] = 1, [TlsHandshake.PeerNotAllowed] = 1, [TlsHandshake.UntrustedClientCertificate] = 1,
        }, harness.TcpLimits.HandshakesRefused.OrderBy(p => p.Key).ToDictionary());
    }

    [Fact]
    public async Task A_rotated_certificate_is_presented_at_the_next_handshake_while_an_open_connection_streams_on_losing_nothing()
    {
        using var certificates = new TestCertificates();
        using var tls = Store(certificates);
        await using var harness = SourceHarness.StartTls(tls);
        var first = tls.Current.Certificate.Thumbprint;

        // A sender streams over one connection for the whole test.
        await using var open = await ConnectAsync(harness, certificates.Ca);
        Assert.Equal(first, open.RemoteCertificate!.GetCertHashString());
        var sent = 0;
        async Task SendSomeAsync(int count)
        {
            for (var i = 0; i < count; i++, sent++)
            {
                await open.WriteAsync(Encoding.UTF8.GetBytes($"<13>stream seq={sent:D5}\n"), Ct);
            }

            await open.FlushAsync(Ct);
        }

        await SendSomeAsync(500);

        // A broken replacement (a certificate whose key is not the one beside it) keeps the certificate in force.
        using var next = certificates.Leaf("localhost-rotated", ["localhost"]);
        var (certificatePath, _) = (tls.Options.CertificatePath, tls.Options.KeyPath);
        File.WriteAllText(certificatePath, next.ExportCertificatePem());
        Assert.False(tls.Reload("test"));
        Assert.Contains("is not the key of the certificate", tls.Failure?.Error, StringComparison.Ordinal);
        await using (var during = await ConnectAsync(harness, certificates.Ca))
        {
            Assert.Equal(first, during.RemoteCertificate!.GetCertHashString());
        }

        await SendSomeAsync(500);

        // The whole replacement: the next handshake presents it, and the failure is cleared.
        certificates.Write("server", next);
        Assert.True(tls.Reload("test"));
        Assert.Null(tls.Failure);
        await using (var after = await ConnectAsync(harness, certificates.Ca))
        {
            Assert.Equal(next.Thumbprint, after.RemoteCertificate!.GetCertHashString());
        }

        await SendSomeAsync(500);
        await open.ShutdownAsync();
        await Eventually.Until(() => harness.Stats.Stored == 1500, "every message of the open connection to be stored");
        await harness.StopAsync();
        Assert.Equal(Enumerable.Range(0, 1500).Select(i => $"stream seq={i:D5}"), harness.Sink.Stored);
        Assert.Equal(1, tls.Reloads);
    }

    [Fact]
    public async Task A_file_changed_on_disk_is_reloaded_by_the_watch_without_a_call()
    {
        using var certificates = new TestCertificates();
        using var tls = Store(certificates, o => o with { ReloadDelay = TimeSpan.FromMilliseconds(50) });
        tls.Watch();
        using var next = certificates.Leaf("watched", ["localhost"]);

        // Written elsewhere and renamed into place, as cert-manager and certbot's deploy hooks do.
        var staged = certificates.Write("staged", next);
        File.Move(staged.Key, tls.Options.KeyPath, overwrite: true);
        File.Move(staged.Certificate, tls.Options.CertificatePath, overwrite: true);
        await Eventually.Until(() => tls.Current.Certificate.Thumbprint == next.Thumbprint, "the watch to load the new certificate");
        Assert.Null(tls.Failure);
    }

    [Fact]
    public void The_chain_in_the_certificate_file_is_served_with_the_leaf()
    {
        using var certificates = new TestCertificates();
        using var intermediate = TestCertificates.MakeCa("Spillway Test Intermediate", certificates.Ca);
        using var leaf = certificates.Leaf("localhost", issuer: intermediate);
        var (certificate, key) = certificates.Write("chained", leaf, intermediate);
        var credentials = TlsCredentials.Load(new TlsOptions { CertificatePath = certificate, KeyPath = key }, TimeProvider.System.GetUtcNow());
        Assert.Equal(1, credentials.Intermediates);
        Assert.Contains(credentials.Context.IntermediateCertificates, c => c.Thumbprint == intermediate.Thumbprint);
    }

    [Fact]
    public void Files_that_cannot_be_used_are_refused_with_the_file_and_the_reason()
    {
        using var certificates = new TestCertificates();
        var (certificate, key) = certificates.Write("server", certificates.Leaf("localhost"));
        using var expired = certificates.Leaf("old", notAfter: TimeProvider.System.GetUtcNow().AddDays(-1));
        var (expiredCertificate, expiredKey) = certificates.Write("expired", expired);
        var (otherCertificate, _) = certificates.Write("other", certificates.Leaf("other"));
        File.WriteAllText(certificates.Path("garbage.pem"), "not a certificate\n");
        File.WriteAllText(certificates.Path("encrypted.key"), "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");

        string Refusal(string cert, string keyPath, string? ca = null) => Assert.Throws<TlsCredentialsException>(() => TlsCredentials.Load(
            new TlsOptions { CertificatePath = cert, KeyPath = keyPath, ClientCaPath = ca }, TimeProvider.System.GetUtcNow())).Message;

        Assert.Contains("cannot read the certificate file", Refusal(certificates.Path("missing.crt"), key), StringComparison.Ordinal);
        Assert.Contains("holds no PEM certificate", Refusal(certificates.Path("garbage.pem"), key), StringComparison.Ordinal);
        Assert.Contains("is not the key of the certificate", Refusal(otherCertificate, key), StringComparison.Ordinal);
        Assert.Contains("expired on", Refusal(expiredCertificate, expiredKey), StringComparison.Ordinal);
        Assert.Contains("is encrypted", Refusal(certificate, certificates.Path("encrypted.key")), StringComparison.Ordinal);
        Assert.Contains("holds no PEM", Refusal(certificate, certificates.Path("garbage.pem")), StringComparison.Ordinal);
        Assert.Contains("client CA file", Refusal(certificate, key, certificates.Path("garbage.pem")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relay1.example.com", "relay1.example.com", true)]
    [InlineData("RELAY1.Example.com", "relay1.example.com.", true)]
    [InlineData("*.example.com", "relay1.example.com", true)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("*.example.com", "a.b.example.com", false)]
    [InlineData("*.example.com", "relay1.example.org", false)]
    [InlineData("relay1.example.com", "relay2.example.com", false)]
    public void Allowed_peers_match_names_exactly_or_by_one_wildcard_label(string pattern, string name, bool matches) =>
        Assert.Equal(matches, PeerNames.Matches(pattern, name));

    [Theory]
    [InlineData("relay1.example.com", true)]
    [InlineData("*.example.com", true)]
    [InlineData("*", false)]
    [InlineData("a.*.example.com", false)]
    [InlineData("", false)]
    [InlineData("bad name", false)]
    public void Allowed_peer_patterns_are_dns_names_or_a_leading_wildcard(string pattern, bool valid) =>
        Assert.Equal(valid, PeerNames.IsValidPattern(pattern));

    private static TlsCredentialStore Store(TestCertificates certificates, Func<TlsOptions, TlsOptions>? configure = null)
    {
        var (certificate, key) = certificates.Write("server", certificates.Leaf("localhost"));
        var options = new TlsOptions { CertificatePath = certificate, KeyPath = key };
        return new TlsCredentialStore(configure?.Invoke(options) ?? options, TimeProvider.System, NullLogger<TlsCredentialStore>.Instance);
    }

    /// <summary>A TLS client that trusts <paramref name="ca"/> only, with a client certificate when given.</summary>
    private static async Task<SslStream> ConnectAsync(SourceHarness harness, X509Certificate2 ca, X509Certificate2? client = null)
    {
        var socket = await harness.ConnectAsync();
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(ca);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            CertificateChainPolicy = policy,
            ClientCertificates = client is null ? null : [client],
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        }, Ct).WaitAsync(TestTimeouts.Wait, Ct);
        return ssl;
    }

    private static async Task SendAsync(SourceHarness harness, X509Certificate2 ca, X509Certificate2? client, string text)
    {
        await using var ssl = await ConnectAsync(harness, ca, client);
        await ssl.WriteAsync(Encoding.UTF8.GetBytes(text), Ct);
        await ssl.ShutdownAsync();
    }

    /// <summary>
    /// Sends, and says whether the server kept the connection: in TLS 1.3 a refused client certificate is known to the
    /// client only when it next reads, so this reads until the server closes or the timeout says it did not.
    /// </summary>
    private static async Task<bool> TrySendAsync(SourceHarness harness, X509Certificate2 ca, X509Certificate2? client, string text)
    {
        try
        {
            await using var ssl = await ConnectAsync(harness, ca, client);
            await ssl.WriteAsync(Encoding.UTF8.GetBytes(text), Ct);
            var buffer = new byte[1];
            return await ssl.ReadAsync(buffer, Ct).AsTask().WaitAsync(TestTimeouts.Wait, Ct) > 0;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return false;
        }
    }

    private static async Task<int> ReadToCloseAsync(Socket socket, byte[] buffer)
    {
        try
        {
            return await socket.ReceiveAsync(buffer, SocketFlags.None, Ct).AsTask().WaitAsync(TestTimeouts.Wait, Ct);
        }
        catch (SocketException)
        {
            return 0; // reset: closed all the same
        }
    }
}
