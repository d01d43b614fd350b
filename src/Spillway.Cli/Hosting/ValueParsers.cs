using System.Globalization;

namespace Spillway.Cli.Hosting;

/// <summary>Parses the values of settings, the same way whether they come from a flag, a config file or the environment.</summary>
internal static class ValueParsers
{
    private static readonly (string Suffix, long Factor)[] ByteUnits =
    [
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
        ("B", 1),
    ];

    private static readonly (string Suffix, double Milliseconds)[] TimeUnits =
        [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];

    /// <summary>A whole number; thousands separators (<c>100,000</c> or <c>100_000</c>) are allowed.</summary>
    public static bool TryParseCount(string text, out long value) =>
        long.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out value);

    /// <summary>A size in bytes: <c>65536</c>, <c>64KiB</c>, <c>64 MiB</c>, <c>1GB</c> (KiB, MiB, GiB are binary; KB, MB, GB decimal).</summary>
    public static bool TryParseByteSize(string text, out long value)
    {
        var trimmed = text.Trim();
        foreach (var (suffix, factor) in ByteUnits)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                if (TryParseCount(trimmed[..^suffix.Length].TrimEnd(), out var number) && number <= long.MaxValue / factor)
                {
                    value = number * factor;
                    return true;
                }

                value = 0;
                return false;
            }
        }

        return TryParseCount(trimmed, out value);
    }

    /// <summary>A duration with a unit (<c>250ms</c>, <c>2s</c>, <c>1.5m</c>, <c>12h</c>, <c>30d</c>) or as a TimeSpan (<c>00:00:00.250</c>).</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        var trimmed = text.Trim();
        if (trimmed.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out value);
        }

        foreach (var (suffix, milliseconds) in TimeUnits)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(trimmed[..^suffix.Length].TrimEnd(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)
                && n * milliseconds < TimeSpan.MaxValue.TotalMilliseconds)
            {
                value = TimeSpan.FromMilliseconds(n * milliseconds);
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>A size as an operator writes it: in the largest binary unit that divides it (<c>64MiB</c>), else in bytes.</summary>
    public static string FormatByteSize(long bytes)
    {
        foreach (var (suffix, factor) in ByteUnits.Where(u => u.Suffix.EndsWith("iB", StringComparison.Ordinal)).Reverse())
        {
            if (bytes != 0 && bytes % factor == 0)
            {
                return (bytes / factor).ToString(CultureInfo.InvariantCulture) + suffix;
            }
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A duration as an operator writes it, in the largest unit that divides it: <c>100ms</c>, <c>5s</c>, <c>2m</c>, <c>1d</c>.</summary>
    public static string FormatDuration(TimeSpan duration)
    {
        foreach (var (suffix, milliseconds) in TimeUnits.Reverse())
        {
            var ticks = (long)(milliseconds * TimeSpan.TicksPerMillisecond);
            if (duration.Ticks != 0 && duration.Ticks % ticks == 0)
            {
                return (duration.Ticks / ticks).ToString(CultureInfo.InvariantCulture) + suffix;
            }
        }

        return duration.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + "ms";
    }
}
