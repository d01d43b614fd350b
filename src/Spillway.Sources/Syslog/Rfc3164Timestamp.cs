namespace Spillway.Syslog;

/// <summary>
/// Reads the RFC 3164 timestamp, <c>Mmm dd hh:mm:ss</c> (the day space-padded: <c>Feb  5</c>). It has no year and no
/// zone: the year is the one of the time received (the year before, for a December message received in January),
/// and the time is taken as UTC.
/// </summary>
internal static class Rfc3164Timestamp
{
    public const int Length = 15;

    private static readonly string[] Months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

    public static bool TryParse(ReadOnlySpan<byte> text, DateTimeOffset receivedAt, out DateTimeOffset timestamp, out int length)
    {
        timestamp = default;
        length = Length;
        if (text.Length < Length || text[3] != (byte)' ' || text[6] != (byte)' ' || text[9] != (byte)':' || text[12] != (byte)':')
        {
            return false;
        }

        var month = Month(text[..3]);
        var day = text[4] == (byte)' ' ? (Rfc3339.TryDigits(text, 5, 1, out var d) ? d : -1) : (Rfc3339.TryDigits(text, 4, 2, out d) ? d : -1);
        if (month == 0 || day < 1
            || !Rfc3339.TryDigits(text, 7, 2, out var hour) || !Rfc3339.TryDigits(text, 10, 2, out var minute)
            || !Rfc3339.TryDigits(text, 13, 2, out var second) || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        var year = receivedAt.UtcDateTime.Year;
        if (month == 12 && receivedAt.UtcDateTime.Month == 1)
        {
            year--; // sent in December, received in January
        }

        if (day > DateTime.DaysInMonth(year, month))
        {
            return false;
        }

        timestamp = new DateTimeOffset(year, month, day, hour, minute, Math.Min(second, 59), TimeSpan.Zero);
        return true;
    }

    private static int Month(ReadOnlySpan<byte> name)
    {
        Span<char> lower = stackalloc char[3];
        for (var i = 0; i < 3; i++)
        {
            lower[i] = (char)(name[i] | 0x20);
        }

        for (var m = 0; m < Months.Length; m++)
        {
            if (lower.SequenceEqual(Months[m]))
            {
                return m + 1;
            }
        }

        return 0;
    }
}
