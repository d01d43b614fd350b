using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Tls;

/// <summary>
/// One client's handshake: the options it is offered, made from the credentials in force when it arrives, and the
/// reason it was refused, said once to the listener, which counts and logs it.
/// </summary>
public sealed class TlsHandshake
{
    /// <summary>The first bytes were not a TLS handshake record: a plain-text sender on the TLS port.</summary>
    public const string NotTls = "not-tls";

    /// <summary>The client offered no protocol this side takes (TLS 1.2 and 1.3 only).</summary>
    public const string ProtocolVersion = "protocol-version";

    /// <summary>Mutual TLS: the client sent no certificate.</summary>
    public const string NoClientCertificate = "no-client-certificate";

    /// <summary>Mutual TLS: the client's certificate does not chain to the client CA (or is expired, or not for client authentication).</summary>
    public const string UntrustedClientCertificate = "untrusted-client-certificate";

    /// <summary>Mutual TLS: the certificate chains, but none of its names is an allowed peer.</summary>
    public const string PeerNotAllowed = "peer-not-allowed";

    /// <summary>The handshake was not finished within the handshake timeout.</summary>
    public const string Timeout = "handshake-timeout";

    /// <summary>Any other failed handshake: no cipher in common, a malformed message, the client gave up.</summary>
    public const string Failed = "handshake-failed";

    /// <summary>Every reason, the bounded label set of <c>spillway_tls_handshakes_refused_total</c>.</summary>
    public static IReadOnlyList<string> Reasons { get; } =
        [NotTls, ProtocolVersion, NoClientCertificate, UntrustedClientCertificate, PeerNotAllowed, Timeout, Failed];

    private const SslProtocols Taken = SslProtocols.Tls12 | SslProtocols.Tls13;

    private readonly Action<string, string> _refused;
    private int _said;

    /// <summary>Starts a handshake whose refusal, if any, is reported to <paramref name="refused"/> (reason, detail) once.</summary>
    public TlsHandshake(Action<string, string> refused)
    {
        ArgumentNullException.ThrowIfNull(refused);
        _refused = refused;
    }

    /// <summary>
    /// A listener's handshake: a refusal is counted by its reason in <paramref name="limits"/> and said to
    /// <paramref name="badInput"/>, which logs each reason once a minute at most.
    /// </summary>
    public static TlsHandshake Counted(SourceLimitCounters limits, BadInputLog badInput, Transport transport, string peer)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(badInput);
        return new TlsHandshake((reason, detail) =>
        {
            limits.HandshakeRefused(reason);
            badInput.Report(reason, transport, peer, detail);
        });
    }

    /// <summary>Why the handshake was refused, once it was; null while it was not.</summary>
    public string? Refusal { get; private set; }

    /// <summary>Under mutual TLS, the subject of the client certificate once it was accepted.</summary>
    public string? ClientSubject { get; private set; }

    /// <summary>Reports the refusal, unless one was reported already (the first reason found is the one counted).</summary>
    public void Refuse(string reason, string detail)
    {
        if (Interlocked.Exchange(ref _said, 1) == 0)
        {
            Refusal = reason;
            _refused(reason, detail);
        }
    }

    /// <summary>The options of this handshake, from the credentials in force and what the client's hello offers.</summary>
    public SslServerAuthenticationOptions Options(TlsCredentials credentials, IReadOnlyList<string> allowedPeers, SslClientHelloInfo hello)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentNullException.ThrowIfNull(allowedPeers);
        if (hello.SslProtocols != SslProtocols.None && (hello.SslProtocols & Taken) == 0)
        {
            Refuse(ProtocolVersion, $"the client offered {hello.SslProtocols} only; TLS 1.2 and 1.3 are taken");
        }

        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = credentials.Context,
            EnabledSslProtocols = Taken,
            AllowRenegotiation = false,
            ClientCertificateRequired = credentials.ClientCa is not null,
        };
        if (credentials.ClientCa is not null)
        {
            options.CertificateChainPolicy = credentials.ClientChainPolicy();
            options.RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Validate(certificate, chain, errors, allowedPeers);
        }

        return options;
    }

    private bool Validate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, IReadOnlyList<string> allowedPeers)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            Refuse(NoClientCertificate, "the client sent no certificate, and --tls-client-ca asks for one");
            return false;
        }

        var client = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        if (errors != SslPolicyErrors.None)
        {
            var status = chain?.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct().ToList() ?? [];
            Refuse(UntrustedClientCertificate, $"the client certificate '{client.Subject}' (issued by '{client.Issuer}') is not taken: " +
                (status.Count > 0 ? string.Join("; ", status) : errors.ToString()));
            return false;
        }

        if (allowedPeers.Count > 0 && PeerNames.FirstAllowed(allowedPeers, client) is null)
        {
            var names = PeerNames.Of(client);
            Refuse(PeerNotAllowed, $"the client certificate names {(names.Count == 0 ? "nothing" : string.Join(", ", names))}, " +
                "which no --tls-allowed-peer matches");
            return false;
        }

        ClientSubject = client.Subject;
        return true;
    }
}
