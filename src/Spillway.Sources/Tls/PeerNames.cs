using System.Security.Cryptography.X509Certificates;

namespace Spillway.Tls;

/// <summary>
/// Matches a client certificate against the allowed peers of mutual TLS, as rsyslog's <c>permittedPeer</c> and
/// syslog-ng's <c>trusted-dn</c> do for names: an exact DNS name (in any case), or <c>*.example.com</c>, whose star
/// stands for exactly one label (RFC 6125, 6.4.3), so it admits <c>a.example.com</c> but neither <c>example.com</c>
/// nor <c>a.b.example.com</c>. The certificate's DNS subject alternative names are tried first, then the common names
/// of its subject.
/// </summary>
public static class PeerNames
{
    /// <summary>Whether <paramref name="pattern"/> is a DNS name, or <c>*.</c> followed by one.</summary>
    public static bool IsValidPattern(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var name = pattern.StartsWith("*.", StringComparison.Ordinal) ? pattern[2..] : pattern;
        return name.Length is > 0 and <= 253 && name.Split('.').All(IsLabel);
    }

    /// <summary>Whether <paramref name="name"/> (a DNS name or a common name) matches <paramref name="pattern"/>.</summary>
    public static bool Matches(string pattern, string name)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(name);
        name = name.TrimEnd('.');
        pattern = pattern.TrimEnd('.');
        if (!pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            return string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
        }

        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && string.Equals(name[(dot + 1)..], pattern[2..], StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The names a certificate is known by, in the order they are tried: its DNS SANs, then its subject's CNs.</summary>
    public static IReadOnlyList<string> Of(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
            }
        }

        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == CommonNameOid && rdn.GetSingleElementValue() is { Length: > 0 } cn)
            {
                names.Add(cn);
            }
        }

        return [.. names.Distinct(StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>The first of the certificate's names that an allowed pattern matches, or null when none does.</summary>
    public static string? FirstAllowed(IReadOnlyList<string> patterns, X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        return Of(certificate).FirstOrDefault(name => patterns.Any(pattern => Matches(pattern, name)));
    }

    private const string CommonNameOid = "2.5.4.3";

    private static bool IsLabel(string label) =>
        label.Length is > 0 and <= 63 && label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_') && label[0] != '-' && label[^1] != '-';
}
