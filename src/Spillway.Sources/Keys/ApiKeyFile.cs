using System.Globalization;
using System.Text.RegularExpressions;

namespace Spillway.Keys;

/// <summary>
/// The keys file: one key a line, <c>NAME sha256:HEX [rate=N] [burst=N]</c>, where HEX is the SHA-256 of the secret in
/// hex (the secret itself is never in the file); <c>#</c> starts a comment, blank lines are skipped. A name is 1 to 64
/// letters, digits, <c>.</c>, <c>_</c> or <c>-</c>, and names and hashes are each unique. <c>rate</c> is messages per
/// second, <c>burst</c> the most taken at once (the default is the rate); a key without <c>rate</c> is not limited.
/// </summary>
public static partial class ApiKeyFile
{
    /// <summary>The most messages per second a key's rate may say.</summary>
    public const int MaxRate = 100_000_000;

    /// <summary>Whether a key may have this name: 1 to 64 letters, digits, <c>.</c>, <c>_</c> or <c>-</c>.</summary>
    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    /// <summary>Reads and checks the file.</summary>
    /// <exception cref="ApiKeyFileException">It cannot be read, or a line is wrong; the message names the file and line.</exception>
    public static IReadOnlyList<ApiKey> Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ApiKeyFileException($"the API keys file '{path}' cannot be read: {ex.Message}", ex);
        }

        return Parse(text, path);
    }

    /// <summary>Checks the text of a keys file.</summary>
    /// <param name="text">The file's text.</param>
    /// <param name="path">The file's name, for messages.</param>
    /// <exception cref="ApiKeyFileException">A line is wrong; the message names the file and line.</exception>
    public static IReadOnlyList<ApiKey> Parse(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        var keys = new List<ApiKey>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var hashes = new Dictionary<string, int>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var comment = raw.IndexOf('#', StringComparison.Ordinal);
            var line = (comment >= 0 ? raw[..comment] : raw).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var where = $"{path}:{number}";
            if (fields.Length < 2)
            {
                throw new ApiKeyFileException($"{where}: a key's line is NAME sha256:HEX [rate=N] [burst=N]; this one has no hash " +
                    "(`spillway key new NAME` prints a line to add)");
            }

            var name = fields[0];
            if (!IsValidName(name))
            {
                throw new ApiKeyFileException($"{where}: '{name}' is not a key name: 1 to 64 letters, digits, '.', '_' or '-'");
            }

            if (names.TryGetValue(name, out var earlier))
            {
                throw new ApiKeyFileException($"{where}: the key name '{name}' is on line {earlier} already; each name is one key");
            }

            var hash = ParseHash(fields[1], where);
            var hex = Convert.ToHexStringLower(hash);
            if (hashes.TryGetValue(hex, out var twin))
            {
                throw new ApiKeyFileException($"{where}: key '{name}' has the same secret as the key on line {twin}: " +
                    "a secret must name one key, give each its own (`spillway key new`)");
            }

            var limit = ParseLimit(fields.AsSpan(2), where);
            names.Add(name, number);
            hashes.Add(hex, number);
            keys.Add(new ApiKey(name, hash, limit, number));
        }

        return keys;
    }

    private static byte[] ParseHash(string field, string where)
    {
        if (field.StartsWith(ApiKeySecret.Prefix, StringComparison.Ordinal))
        {
            throw new ApiKeyFileException($"{where}: this is a secret, not its hash: the file must never hold a secret. Replace it " +
                $"with the line `spillway key new NAME` prints (a new secret), and treat this one as spent");
        }

        var hash = new byte[32];
        if (!field.StartsWith(ApiKeySecret.HashPrefix, StringComparison.Ordinal) || field.Length != ApiKeySecret.HashPrefix.Length + 64
            || Convert.FromHexString(field.AsSpan(ApiKeySecret.HashPrefix.Length), hash, out _, out _) != System.Buffers.OperationStatus.Done)
        {
            throw new ApiKeyFileException($"{where}: '{field}' is not a hash: write sha256: and the 64 hex digits of the secret's SHA-256");
        }

        return hash;
    }

    private static ApiKeyLimit? ParseLimit(ReadOnlySpan<string> fields, string where)
    {
        int? rate = null;
        int? burst = null;
        foreach (var field in fields)
        {
            var equals = field.IndexOf('=', StringComparison.Ordinal);
            var option = equals < 0 ? field : field[..equals];
            if (option is not ("rate" or "burst") || equals < 0)
            {
                throw new ApiKeyFileException($"{where}: '{field}' is not an option of a key: rate=N (messages per second) and burst=N are");
            }

            if (!int.TryParse(field.AsSpan(equals + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1 || value > MaxRate)
            {
                throw new ApiKeyFileException($"{where}: {option} must be a whole number from 1 to {MaxRate:N0}, not '{field[(equals + 1)..]}'");
            }

            if ((option == "rate" ? rate : burst) is not null)
            {
                throw new ApiKeyFileException($"{where}: {option} is given twice");
            }

            if (option == "rate")
            {
                rate = value;
            }
            else
            {
                burst = value;
            }
        }

        if (burst is not null && rate is null)
        {
            throw new ApiKeyFileException($"{where}: burst needs a rate: give rate=N (messages per second) too");
        }

        return rate is { } r ? new ApiKeyLimit(r, burst ?? r) : null;
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();
}

/// <summary>The keys file cannot be used; the message says where and why.</summary>
public sealed class ApiKeyFileException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ApiKeyFileException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ApiKeyFileException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ApiKeyFileException()
    {
    }
}
