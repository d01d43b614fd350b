using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spillway.Tls;

/// <summary>
/// One loaded set of the TLS files: the server certificate with its key and chain, ready for handshakes, and the
/// client CA of mutual TLS. Immutable: a rotation loads a new one and swaps it in whole.
/// </summary>
public sealed class TlsCredentials
{
    private TlsCredentials(X509Certificate2 certificate, int intermediates, SslStreamCertificateContext context, X509Certificate2Collection? clientCa)
    {
        Certificate = certificate;
        Intermediates = intermediates;
        Context = context;
        ClientCa = clientCa;
    }

    /// <summary>The leaf certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>How many intermediate certificates came after the leaf in the certificate file.</summary>
    public int Intermediates { get; }

    /// <summary>What handshakes present: the leaf and its chain.</summary>
    public SslStreamCertificateContext Context { get; }

    /// <summary>The CA certificates a client certificate must chain to, or null when none is asked for.</summary>
    public X509Certificate2Collection? ClientCa { get; }

    /// <summary>When the server certificate expires.</summary>
    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>When the first of the client CA certificates expires, or null without a client CA.</summary>
    public DateTimeOffset? ClientCaNotAfter => ClientCa is null
        ? null
        : ClientCa.Select(c => new DateTimeOffset(c.NotAfter.ToUniversalTime(), TimeSpan.Zero)).Min();

    /// <summary>Whether the two were loaded from the same certificates, key and CA (a reload that found nothing new).</summary>
    public bool SameAs(TlsCredentials other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Certificate.Thumbprint == other.Certificate.Thumbprint && Intermediates == other.Intermediates
            && Thumbprints(ClientCa).SequenceEqual(Thumbprints(other.ClientCa));
    }

    /// <summary>One line for the log and check-config: whom the certificate names, until when, and the client CA.</summary>
    public override string ToString() => Describe();

    /// <summary>One line for the log and check-config: whom the certificate names, until when, and the client CA.</summary>
    public string Describe()
    {
        var line = $"certificate '{Certificate.Subject}' (issued by '{Certificate.Issuer}', expires {Format(NotAfter)}" +
            (Intermediates > 0 ? $", with {Intermediates} intermediate(s))" : ")");
        return ClientCa is null
            ? line + "; no client certificate asked for"
            : line + $"; client certificates must chain to {ClientCa.Count} CA certificate(s) ('{ClientCa[0].Subject}'" +
              $"{(ClientCa.Count > 1 ? ", ..." : "")}, the first to expire on {Format(ClientCaNotAfter!.Value)})";
    }

    /// <summary>Reads and checks the files of <paramref name="options"/>.</summary>
    /// <param name="options">The files.</param>
    /// <param name="now">The time against which the certificates must be valid.</param>
    /// <exception cref="TlsCredentialsException">A file is missing or unreadable, is not PEM of the right kind, the key is not
    /// the certificate's, or a certificate has expired or is not valid yet; the message says which and what to do.</exception>
    public static TlsCredentials Load(TlsOptions options, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(options);
        var chain = ReadCertificates(options.CertificatePath, "certificate");
        var leaf = chain[0];
        CheckValidity(leaf, options.CertificatePath, now);
        var certificate = WithKey(leaf, options.CertificatePath, options.KeyPath);
        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        X509Certificate2Collection? clientCa = null;
        SslCertificateTrust? trust = null;
        if (options.ClientCaPath is { } caPath)
        {
            clientCa = ReadCertificates(caPath, "client CA");
            foreach (var ca in clientCa)
            {
                CheckValidity(ca, caPath, now);
            }

            // The CA names go in the CertificateRequest, so a client that holds several certificates picks the right one.
            trust = SslCertificateTrust.CreateForX509Collection(clientCa, sendTrustInHandshake: true);
        }

        // offline: the chain is built from the file alone, never fetched from the issuer's URLs during a start or a reload.
        var context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true, trust);
        return new TlsCredentials(certificate, intermediates.Count, context, clientCa);
    }

    /// <summary>A chain policy for one handshake's client certificate: it must chain to the client CA, for client authentication.</summary>
    internal X509ChainPolicy ClientChainPolicy()
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(ClientCa!);
        policy.ApplicationPolicy.Add(new Oid(ClientAuthentication));
        return policy;
    }

    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    private static X509Certificate2Collection ReadCertificates(string path, string what)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TlsCredentialsException($"cannot read the {what} file '{path}': {ex.Message}", ex);
        }
        catch (CryptographicException ex)
        {
            throw new TlsCredentialsException($"the {what} file '{path}' holds a certificate that cannot be read: {ex.Message}", ex);
        }

        return certificates.Count > 0
            ? certificates
            : throw new TlsCredentialsException($"the {what} file '{path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }

    private static void CheckValidity(X509Certificate2 certificate, string path, DateTimeOffset now)
    {
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        if (now > notAfter)
        {
            throw new TlsCredentialsException($"the certificate '{certificate.Subject}' in '{path}' expired on {Format(notAfter)}");
        }

        if (now < notBefore)
        {
            throw new TlsCredentialsException($"the certificate '{certificate.Subject}' in '{path}' is not valid before {Format(notBefore)}");
        }
    }

    private static X509Certificate2 WithKey(X509Certificate2 leaf, string certificatePath, string keyPath)
    {
        string pem;
        try
        {
            pem = File.ReadAllText(keyPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TlsCredentialsException($"cannot read the key file '{keyPath}': {ex.Message}", ex);
        }

        if (pem.Contains("ENCRYPTED", StringComparison.Ordinal))
        {
            throw new TlsCredentialsException($"the key in '{keyPath}' is encrypted, and serve asks no passphrase: write it decrypted " +
                "(openssl pkey -in KEY -out NEW), readable by the service's user only");
        }

        try
        {
            if (leaf.GetRSAPublicKey() is { } rsaPublic)
            {
                rsaPublic.Dispose();
                using var rsa = RSA.Create();
                rsa.ImportFromPem(pem);
                return leaf.CopyWithPrivateKey(rsa);
            }

            if (leaf.GetECDsaPublicKey() is { } ecPublic)
            {
                ecPublic.Dispose();
                using var ec = ECDsa.Create();
                ec.ImportFromPem(pem);
                return leaf.CopyWithPrivateKey(ec);
            }
        }
        catch (ArgumentException ex) when (pem.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            // ImportFromPem's "no supported key found", or CopyWithPrivateKey's "does not match".
            throw new TlsCredentialsException(ex.Message.Contains("match", StringComparison.OrdinalIgnoreCase)
                ? $"the key in '{keyPath}' is not the key of the certificate in '{certificatePath}'"
                : $"the key file '{keyPath}' holds no {KeyKind(leaf)} private key in PEM: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new TlsCredentialsException($"the key file '{keyPath}' holds no PEM (-----BEGIN PRIVATE KEY-----)", ex);
        }
        catch (CryptographicException ex)
        {
            throw new TlsCredentialsException($"the key in '{keyPath}' cannot be read: {ex.Message}", ex);
        }

        throw new TlsCredentialsException($"the certificate in '{certificatePath}' has a {leaf.PublicKey.Oid.FriendlyName} key: " +
            "serve takes RSA and EC (ECDSA) certificates");
    }

    private static string KeyKind(X509Certificate2 leaf) => leaf.GetRSAPublicKey() is null ? "EC" : "RSA";

    private static IEnumerable<string> Thumbprints(X509Certificate2Collection? certificates) =>
        certificates?.Select(c => c.Thumbprint) ?? [];

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>The TLS files cannot be used; the message says which file and why.</summary>
public sealed class TlsCredentialsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TlsCredentialsException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    public TlsCredentialsException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public TlsCredentialsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
