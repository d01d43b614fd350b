using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spillway.Bench;

/// <summary>
/// The certificate <c>bench --tls</c> serves with: self-signed, EC P-256 (what a production setup would use, and
/// the one openssl's recipe in docs/operations.md makes), for <c>localhost</c> and 127.0.0.1, written as the PEM files
/// <c>serve --tls-cert --tls-key</c> read. The sender trusts this certificate alone and checks the name, as a
/// real client does.
/// </summary>
internal sealed class BenchCertificate : IDisposable
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    private readonly X509Certificate2 _certificate;

    private BenchCertificate(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        _certificate = certificate;
        CertificatePath = certificatePath;
        KeyPath = keyPath;
    }

    public string CertificatePath { get; }

    public string KeyPath { get; }

    /// <summary>Makes the certificate and writes it and its key into <paramref name="directory"/> (the key readable by the user only).</summary>
    public static BenchCertificate Create(string directory)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=spillway-bench", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthentication)], critical: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        var now = TimeProvider.System.GetUtcNow();
        var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        Directory.CreateDirectory(directory);
        var certificatePath = Path.Combine(directory, "bench-tls.crt");
        var keyPath = Path.Combine(directory, "bench-tls.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(keyPath, options))
        {
            writer.Write(key.ExportPkcs8PrivateKeyPem());
        }

        return new BenchCertificate(certificate, certificatePath, keyPath);
    }

    /// <summary>How the sender connects: to <c>localhost</c>, trusting this certificate as its only root.</summary>
    public SslClientAuthenticationOptions ClientOptions() => TcpSender.TrustingOnly([_certificate], "localhost");

    public void Dispose() => _certificate.Dispose();
}
