namespace Spillway.Tls;

/// <summary>
/// The certificate a TLS listener presents and, for mutual TLS, whom it lets in. The files are PEM; they are read at
/// start and again whenever they change (see <see cref="TlsCredentialStore"/>).
/// </summary>
public sealed record TlsOptions
{
    /// <summary>The server certificate, PEM: the leaf first, then any intermediates, which are served with it.</summary>
    public required string CertificatePath { get; init; }

    /// <summary>The private key of the leaf certificate, PEM (PKCS#8, RSA or EC), not encrypted.</summary>
    public required string KeyPath { get; init; }

    /// <summary>
    /// The CA certificates (PEM) a client certificate must chain to; null asks for no client certificate (server
    /// authentication only). <value>The default is null.</value>
    /// </summary>
    public string? ClientCaPath { get; init; }

    /// <summary>
    /// Who may send under mutual TLS: DNS names or <c>*.</c> wildcards (one label), matched against the client
    /// certificate's DNS subject alternative names, then its subject's common name; empty lets in every certificate that
    /// chains to <see cref="ClientCaPath"/>. <value>The default is empty.</value>
    /// </summary>
    public IReadOnlyList<string> AllowedPeers { get; init; } = [];

    /// <summary>The longest a client may take from connecting to a finished handshake. <value>The default is 10 s.</value></summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the files must be still after a change before they are read again, so that a certificate and key
    /// replaced one after the other are read together. <value>The default is 500 ms.</value>
    /// </summary>
    public TimeSpan ReloadDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The files read, in the order they are read.</summary>
    public IEnumerable<string> Files => ClientCaPath is null ? [CertificatePath, KeyPath] : [CertificatePath, KeyPath, ClientCaPath];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(CertificatePath, nameof(CertificatePath));
        ArgumentException.ThrowIfNullOrWhiteSpace(KeyPath, nameof(KeyPath));
        ArgumentNullException.ThrowIfNull(AllowedPeers, nameof(AllowedPeers));
        if (AllowedPeers.Count > 0 && ClientCaPath is null)
        {
            throw new ArgumentException("Allowed peers need a client CA: without one no client certificate is asked for.", nameof(AllowedPeers));
        }

        foreach (var peer in AllowedPeers)
        {
            if (!PeerNames.IsValidPattern(peer))
            {
                throw new ArgumentException($"'{peer}' is not a DNS name or a *. wildcard of one.", nameof(AllowedPeers));
            }
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HandshakeTimeout, TimeSpan.Zero, nameof(HandshakeTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReloadDelay, TimeSpan.Zero, nameof(ReloadDelay));
    }
}
