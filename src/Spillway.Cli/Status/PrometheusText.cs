using System.Globalization;
using System.Text;

namespace Spillway.Cli.Status;

/// <summary>One sample of a Prometheus text exposition: a series name, its labels and its value.</summary>
internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// Reads the Prometheus text format (version 0.0.4) that <c>/metrics</c> serves: a sample per line,
/// <c>name{label="value",...} value [timestamp]</c>; comments and blank lines skipped.
/// </summary>
internal static class PrometheusText
{
    /// <exception cref="FormatException">A line is not a sample.</exception>
    public static IReadOnlyList<Sample> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var samples = new List<Sample>();
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            samples.Add(ParseLine(line));
        }

        return samples;
    }

    /// <summary>The sum of a series' samples whose labels pass <paramref name="where"/>; zero when there are none.</summary>
    public static double Sum(this IEnumerable<Sample> samples, string name, Func<IReadOnlyDictionary<string, string>, bool>? where = null) =>
        samples.Where(s => s.Name == name && (where is null || where(s.Labels))).Sum(s => s.Value);

    private static Sample ParseLine(string line)
    {
        var i = 0;
        while (i < line.Length && line[i] is not ('{' or ' ' or '\t'))
        {
            i++;
        }

        var name = line[..i];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i = ParseLabels(line, i + 1, labels);
        }

        var rest = line[i..].Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (name.Length == 0 || rest.Length == 0 || !TryParseValue(rest[0], out var value))
        {
            throw new FormatException($"not a Prometheus sample: {line}");
        }

        return new Sample(name, labels, value);
    }

    /// <summary>Reads <c>a="x",b="y"}</c> from <paramref name="i"/>; returns the index after the brace.</summary>
    private static int ParseLabels(string line, int i, Dictionary<string, string> labels)
    {
        while (true)
        {
            while (i < line.Length && line[i] is ' ' or ',')
            {
                i++;
            }

            if (i < line.Length && line[i] == '}')
            {
                return i + 1;
            }

            var equals = line.IndexOf('=', i);
            if (equals < 0 || equals + 1 >= line.Length || line[equals + 1] != '"')
            {
                throw new FormatException($"not a Prometheus sample: {line}");
            }

            var key = line[i..equals].Trim();
            var value = new StringBuilder();
            i = equals + 2;
            for (; i < line.Length && line[i] != '"'; i++)
            {
                if (line[i] == '\\' && i + 1 < line.Length)
                {
                    i++;
                    value.Append(line[i] == 'n' ? '\n' : line[i]);
                }
                else
                {
                    value.Append(line[i]);
                }
            }

            if (i >= line.Length)
            {
                throw new FormatException($"not a Prometheus sample: {line}");
            }

            labels[key] = value.ToString();
            i++;
        }
    }

    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf":
                value = double.PositiveInfinity;
                return true;
            case "-Inf":
                value = double.NegativeInfinity;
                return true;
            case "NaN":
                value = double.NaN;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }
}
