namespace Spillway.Syslog;

/// <summary>Reads RFC 3339 timestamps (<c>2003-10-11T22:14:15.003Z</c>, <c>...15.000003-07:00</c>) from UTF-8 bytes.</summary>
internal static class Rfc3339
{
    public static bool TryParse(ReadOnlySpan<byte> text, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (text.Length < 20
            || !TryDigits(text, 0, 4, out var year) || text[4] != (byte)'-'
            || !TryDigits(text, 5, 2, out var month) || text[7] != (byte)'-'
            || !TryDigits(text, 8, 2, out var day) || (text[10] | 0x20) != (byte)'t'
            || !TryDigits(text, 11, 2, out var hour) || text[13] != (byte)':'
            || !TryDigits(text, 14, 2, out var minute) || text[16] != (byte)':'
            || !TryDigits(text, 17, 2, out var second))
        {
            return false;
        }

        var i = 19;
        long fraction = 0;
        if (text[i] == (byte)'.')
        {
            var digits = 0;
            i++;
            while (i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9')
            {
                if (digits < 7)
                {
                    fraction = fraction * 10 + (text[i] - '0'); // ticks are 100 ns: digits past the seventh are dropped
                }

                digits++;
                i++;
            }

            if (digits is 0 or > 9)
            {
                return false;
            }

            for (; digits < 7; digits++)
            {
                fraction *= 10;
            }
        }

        TimeSpan offset;
        if (i == text.Length - 1 && (text[i] | 0x20) == (byte)'z')
        {
            offset = TimeSpan.Zero;
        }
        else if (i == text.Length - 6 && text[i] is (byte)'+' or (byte)'-'
            && TryDigits(text, i + 1, 2, out var offsetHours) && text[i + 3] == (byte)':' && TryDigits(text, i + 4, 2, out var offsetMinutes)
            && offsetHours <= 14 && offsetMinutes <= 59)
        {
            offset = new TimeSpan(offsetHours, offsetMinutes, 0);
            if (text[i] == (byte)'-')
            {
                offset = -offset;
            }
        }
        else
        {
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        var local = new DateTime(year, month, day, hour, minute, Math.Min(second, 59), DateTimeKind.Unspecified).AddTicks(fraction);
        var utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false; // 0001-01-01T00:00:00+01:00 and the like: in range as written, out of range in UTC
        }

        timestamp = new DateTimeOffset(local, offset);
        return true;
    }

    /// <summary>Exactly <paramref name="count"/> ASCII digits at <paramref name="start"/>.</summary>
    public static bool TryDigits(ReadOnlySpan<byte> text, int start, int count, out int value)
    {
        value = 0;
        if (start + count > text.Length)
        {
            return false;
        }

        for (var i = start; i < start + count; i++)
        {
            var d = text[i] - '0';
            if (d is < 0 or > 9)
            {
                return false;
            }

            value = value * 10 + d;
        }

        return true;
    }
}
