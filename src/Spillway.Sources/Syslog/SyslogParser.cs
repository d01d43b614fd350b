namespace Spillway.Syslog;

/// <summary>
/// Reads RFC 5424 and RFC 3164 syslog, and the variants real senders produce (no HOSTNAME, an ISO timestamp where
/// 3164 has <c>Mmm dd hh:mm:ss</c> as rsyslog forwards it, no PRI). It works on the frame's bytes and returns where
/// the fields are, so it allocates nothing; what is not syslog comes back as <see cref="SyslogFormat.Raw"/>, never
/// as an error. It never throws on input.
/// </summary>
public static class SyslogParser
{
    private const byte Space = (byte)' ';
    private const int MaxTagLength = 48;
    private const int MaxPidLength = 128;
    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];

    /// <summary>Reads a frame.</summary>
    /// <param name="frame">The frame's bytes, without framing.</param>
    /// <param name="receivedAt">When it arrived: an RFC 3164 timestamp has no year, and takes it from here.</param>
    public static SyslogParts Parse(ReadOnlySpan<byte> frame, DateTimeOffset receivedAt)
    {
        var at = 0;
        int? pri = TryReadPri(frame, ref at, out var value) ? value : null;
        if (pri is not null && TryRead5424(frame, at, pri.Value, out var parts))
        {
            return parts;
        }

        return Read3164(frame, at, pri, receivedAt);
    }

    /// <summary><c>"&lt;" 1*3DIGIT "&gt;"</c> with a value of at most 191.</summary>
    private static bool TryReadPri(ReadOnlySpan<byte> frame, ref int at, out int pri)
    {
        pri = 0;
        if (frame.Length < 3 || frame[0] != (byte)'<')
        {
            return false;
        }

        var i = 1;
        while (i < frame.Length && i <= 3 && IsDigit(frame[i]))
        {
            pri = pri * 10 + (frame[i] - '0');
            i++;
        }

        if (i == 1 || i >= frame.Length || frame[i] != (byte)'>' || pri > 191)
        {
            return false;
        }

        at = i + 1;
        return true;
    }

    /// <summary>
    /// <c>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]</c>.
    /// False, and the caller reads the frame as 3164, at the first thing that does not fit.
    /// </summary>
    private static bool TryRead5424(ReadOnlySpan<byte> frame, int at, int pri, out SyslogParts parts)
    {
        parts = default;
        var i = at;
        if (i >= frame.Length || frame[i] is < (byte)'1' or > (byte)'9')
        {
            return false;
        }

        while (i < frame.Length && IsDigit(frame[i]) && i - at < 3)
        {
            i++;
        }

        if (!TrySpace(frame, ref i)
            || !TryToken(frame, ref i, out var timestampRange)
            || !TryToken(frame, ref i, out var hostname)
            || !TryToken(frame, ref i, out var appName)
            || !TryToken(frame, ref i, out var procId)
            || !TryToken(frame, ref i, out var msgId))
        {
            return false;
        }

        DateTimeOffset? timestamp = null;
        if (timestampRange is { } t)
        {
            if (!Rfc3339.TryParse(frame[t], out var parsed))
            {
                return false;
            }

            timestamp = parsed;
        }

        if (!TryStructuredData(frame, ref i, out var structuredData))
        {
            return false;
        }

        int messageStart;
        if (i == frame.Length)
        {
            messageStart = i;
        }
        else if (frame[i] == Space)
        {
            messageStart = i + 1;
            if (frame[messageStart..].StartsWith(Bom))
            {
                messageStart += Bom.Length;
            }
        }
        else
        {
            return false;
        }

        parts = new SyslogParts
        {
            Format = SyslogFormat.Rfc5424, Facility = pri / 8, Severity = pri % 8, Timestamp = timestamp, Hostname = hostname,
            AppName = appName, ProcId = procId, MsgId = msgId, StructuredData = structuredData, Message = messageStart..,
        };
        return true;
    }

    /// <summary>A header field and the space after it; a NILVALUE (<c>-</c>) comes back as a null range.</summary>
    private static bool TryToken(ReadOnlySpan<byte> frame, ref int i, out Range? token)
    {
        token = null;
        var end = frame[i..].IndexOf(Space);
        if (end <= 0)
        {
            return false;
        }

        var start = i;
        i += end + 1;
        if (!(end == 1 && frame[start] == (byte)'-'))
        {
            token = start..(start + end);
        }

        return true;
    }

    /// <summary><c>NILVALUE / 1*SD-ELEMENT</c>, each element <c>[id param="value" ...]</c> with \" \\ \] escapes in values.</summary>
    private static bool TryStructuredData(ReadOnlySpan<byte> frame, ref int i, out Range? structuredData)
    {
        structuredData = null;
        if (i >= frame.Length)
        {
            return false;
        }

        if (frame[i] == (byte)'-')
        {
            i++;
            return true;
        }

        var start = i;
        while (i < frame.Length && frame[i] == (byte)'[')
        {
            var quoted = false;
            i++;
            while (true)
            {
                if (i >= frame.Length)
                {
                    return false; // an element that never ends
                }

                var b = frame[i];
                if (quoted && b == (byte)'\\' && i + 1 < frame.Length)
                {
                    i += 2;
                    continue;
                }

                i++;
                if (b == (byte)'"')
                {
                    quoted = !quoted;
                }
                else if (b == (byte)']' && !quoted)
                {
                    break;
                }
            }
        }

        if (i == start)
        {
            return false;
        }

        structuredData = start..i;
        return true;
    }

    /// <summary>
    /// <c>[TIMESTAMP SP [HOSTNAME SP]] [TAG["[" PID "]"] ":" SP] MSG</c>. Never fails: without a PRI and a timestamp the
    /// frame is raw, and whatever does not fit a field stays in the message.
    /// </summary>
    private static SyslogParts Read3164(ReadOnlySpan<byte> frame, int at, int? pri, DateTimeOffset receivedAt)
    {
        var i = at;
        DateTimeOffset? timestamp = null;
        if (Rfc3164Timestamp.TryParse(frame[i..], receivedAt, out var parsed, out var length)
            || TryIsoTimestamp(frame[i..], out parsed, out length))
        {
            if (i + length < frame.Length && frame[i + length] == Space)
            {
                timestamp = parsed;
                i += length + 1;
            }
        }

        if (pri is null && timestamp is null)
        {
            return new SyslogParts { Format = SyslogFormat.Raw, Message = .. };
        }

        Range? hostname = null;
        if (timestamp is not null)
        {
            var end = frame[i..].IndexOf(Space);
            if (end > 0 && !LooksLikeTag(frame.Slice(i, end)))
            {
                hostname = i..(i + end);
                i += end + 1;
            }
        }

        var (appName, procId) = ReadTag(frame, ref i);
        return new SyslogParts
        {
            Format = SyslogFormat.Rfc3164, Facility = pri / 8, Severity = pri % 8, Timestamp = timestamp, Hostname = hostname,
            AppName = appName, ProcId = procId, Message = i..,
        };
    }

    /// <summary><c>TAG:</c> or <c>TAG[PID]:</c> (the colon may be missing after a PID) and the space after it.</summary>
    private static (Range? Tag, Range? Pid) ReadTag(ReadOnlySpan<byte> frame, ref int i)
    {
        var rest = frame[i..];
        var end = rest.IndexOfAny((byte)':', (byte)'[', Space);
        if (end <= 0 || end > MaxTagLength)
        {
            return (null, null);
        }

        var tag = i..(i + end);
        if (rest[end] == (byte)':')
        {
            i += end + 1;
            SkipOneSpace(frame, ref i);
            return (tag, null);
        }

        if (rest[end] == (byte)'[')
        {
            var close = rest[(end + 1)..].IndexOfAny((byte)']', Space);
            if (close > 0 && close <= MaxPidLength && rest[end + 1 + close] == (byte)']')
            {
                var pid = (i + end + 1)..(i + end + 1 + close);
                var after = i + end + 1 + close + 1;
                if (after < frame.Length && frame[after] == (byte)':')
                {
                    after++;
                }

                i = after;
                SkipOneSpace(frame, ref i);
                return (tag, pid);
            }
        }

        return (null, null); // a word followed by a space: the message's first word, not a tag
    }

    /// <summary>A token that ends in <c>:</c> or holds <c>[</c> is a TAG, so a frame that has it where HOSTNAME goes has no HOSTNAME.</summary>
    private static bool LooksLikeTag(ReadOnlySpan<byte> token) => token[^1] == (byte)':' || token.Contains((byte)'[');

    /// <summary>An RFC 3339 timestamp up to the next space, as rsyslog's forwarding formats put where 3164 has its own.</summary>
    private static bool TryIsoTimestamp(ReadOnlySpan<byte> text, out DateTimeOffset timestamp, out int length)
    {
        length = text.IndexOf(Space);
        if (length < 20 || !IsDigit(text[0]))
        {
            timestamp = default;
            return false;
        }

        return Rfc3339.TryParse(text[..length], out timestamp);
    }

    private static bool TrySpace(ReadOnlySpan<byte> frame, ref int i)
    {
        if (i < frame.Length && frame[i] == Space)
        {
            i++;
            return true;
        }

        return false;
    }

    private static void SkipOneSpace(ReadOnlySpan<byte> frame, ref int i)
    {
        if (i < frame.Length && frame[i] == Space)
        {
            i++;
        }
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
}
