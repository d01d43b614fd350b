using System.Security.Cryptography;
using System.Text;

namespace Spillway.Keys;

/// <summary>Makes API key secrets and the hashes the keys file holds in their place.</summary>
public static class ApiKeySecret
{
    /// <summary>What every secret Spillway makes starts with, so that one found in a file or a log is recognised.</summary>
    public const string Prefix = "spw_";

    /// <summary>The prefix of a hash in the keys file.</summary>
    public const string HashPrefix = "sha256:";

    /// <summary>A fresh secret: 32 random bytes (256 bits) in base64url after <see cref="Prefix"/>.</summary>
    public static string New() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The SHA-256 of a secret's UTF-8 bytes.</summary>
    public static byte[] Hash(ReadOnlySpan<char> secret)
    {
        Span<byte> bytes = Encoding.UTF8.GetMaxByteCount(secret.Length) <= 512 ? stackalloc byte[512] : new byte[Encoding.UTF8.GetMaxByteCount(secret.Length)];
        var length = Encoding.UTF8.GetBytes(secret, bytes);
        return SHA256.HashData(bytes[..length]);
    }

    /// <summary>The line of the keys file for a key with this secret.</summary>
    public static string Line(string name, string secret, ApiKeyLimit? limit) =>
        $"{name} {HashPrefix}{Convert.ToHexStringLower(Hash(secret))}" + (limit is { } l ? $" rate={l.Rate} burst={l.Burst}" : "");
}
