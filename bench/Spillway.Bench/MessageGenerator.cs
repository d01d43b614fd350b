using System.Globalization;

namespace Spillway.Bench;

/// <summary>
/// Makes test messages of an exact size: <c>&lt;13&gt;seq=0000000042 </c> followed by filler. The sequence number lets
/// a test or benchmark count what arrived, what was lost and what was stored twice. The syslog PRI in front makes
/// each message a syslog frame, which octet-counted framing (RFC 6587) requires.
/// </summary>
internal sealed class MessageGenerator
{
    public const string Pri = "<13>";
    public const string Prefix = "seq=";
    public const int SequenceDigits = 10;
    public const int MinimumSize = 4 + 4 + SequenceDigits + 1;

    private const int SequenceOffset = 8;

    private readonly byte[] _message;

    public MessageGenerator(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, MinimumSize);
        _message = new byte[size];
        "<13>seq="u8.CopyTo(_message);
        for (var i = MinimumSize - 1; i < size; i++)
        {
            _message[i] = i == MinimumSize - 1 ? (byte)' ' : (byte)('a' + (i % 26));
        }
    }

    /// <summary>The message for a sequence number; valid until the next call.</summary>
    public ReadOnlySpan<byte> Next(long seq)
    {
        seq.TryFormat(_message.AsSpan(SequenceOffset, SequenceDigits), out _, "D10", CultureInfo.InvariantCulture);
        return _message;
    }

    /// <summary>
    /// Reads the sequence number back from a stored message, with or without its PRI (a syslog parser strips it);
    /// false when it is not a generated message.
    /// </summary>
    public static bool TryParse(string message, out long seq)
    {
        seq = 0;
        var at = message.StartsWith(Pri, StringComparison.Ordinal) ? Pri.Length : 0;
        return message.AsSpan(at).StartsWith(Prefix, StringComparison.Ordinal)
            && message.Length >= at + Prefix.Length + SequenceDigits
            && long.TryParse(message.AsSpan(at + Prefix.Length, SequenceDigits), NumberStyles.None, CultureInfo.InvariantCulture, out seq);
    }
}
