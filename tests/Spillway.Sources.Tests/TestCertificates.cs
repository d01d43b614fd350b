using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spillway.Sources.Tests;

/// <summary>
/// A throwaway CA and the certificates it signs, written as PEM files into a directory of the test's own: what an
/// operator's <c>openssl</c> makes (the end-to-end tests use openssl itself).
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private static readonly DateTimeOffset Now = TimeProvider.System.GetUtcNow().AddMinutes(-5);

    public TestCertificates()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("spillway-tls-").FullName;
        Ca = MakeCa("Spillway Test CA");
    }

    public string Directory { get; }

    public X509Certificate2 Ca { get; }

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    public static X509Certificate2 MakeCa(string name, X509Certificate2? issuer = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (issuer is null)
        {
            return request.CreateSelfSigned(Now.AddDays(-30), Now.AddDays(365)); // from before any expired leaf it signs
        }

        using var signed = request.Create(issuer, Now.AddDays(-20), Now.AddDays(300), RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>A leaf signed by <paramref name="issuer"/> (the CA when null), for server and client authentication.</summary>
    public X509Certificate2 Leaf(string commonName, string[]? dnsNames = null, X509Certificate2? issuer = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1"), new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")], false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames ?? [commonName])
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        issuer ??= Ca;
        var until = notAfter ?? Now.AddDays(90);
        using var signed = request.Create(issuer, until < Now ? until.AddDays(-1) : Now, until, RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate (then <paramref name="chain"/>) and its key as PEM files; returns their paths.</summary>
    public (string Certificate, string Key) Write(string name, X509Certificate2 certificate, params X509Certificate2[] chain)
    {
        var certificatePath = Path(name + ".crt");
        var keyPath = Path(name + ".key");
        File.WriteAllText(certificatePath, string.Concat(new[] { certificate }.Concat(chain).Select(c => c.ExportCertificatePem() + "\n")));
        File.WriteAllText(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
        return (certificatePath, keyPath);
    }

    /// <summary>Writes CA certificates as one PEM file; returns its path.</summary>
    public string WriteCa(string name, params X509Certificate2[] cas)
    {
        var path = Path(name + ".crt");
        File.WriteAllText(path, string.Concat(cas.Select(c => c.ExportCertificatePem() + "\n")));
        return path;
    }

    public void Dispose()
    {
        Ca.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
