using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Spillway.Bench;

/// <summary>The median, least and greatest of one figure over the runs.</summary>
internal sealed record Spread(double Median, double Min, double Max)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        var median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new Spread(median, sorted[0], sorted[^1]);
    }
}

/// <summary>What <c>spillway-bench</c> prints last, as one JSON line (snake_case keys) for scripts.</summary>
internal sealed record BenchReport(
    string Sink,
    string Database,
    long Messages,
    long Warmup,
    int Size,
    int Connections,
    int BatchSize,
    int? Writers,
    int Runs,
    int ProcessorCount,
    Spread CeilingRowsPerSecond,
    Spread? EndToEndMessagesPerSecond,
    Spread Ratio,
    Spread? PeakRssBytes,
    Spread? SpillEndToEndMessagesPerSecond,
    Spread? SpillRatio,
    Spread? SpillPeakRssBytes,
    Spread? CpuBusyBefore,
    long Lost,
    long Duplicated,
    long Rejected)
{
    /// <summary>The arguments every end-to-end serve was given beyond the benchmark's own (<c>--serve-arg</c>).</summary>
    public IReadOnlyList<string> ServeArguments { get; init; } = [];

    /// <summary>Rows stored as received in 2000 before each end-to-end run (<c>--expired-rows</c>).</summary>
    public long ExpiredRows { get; init; }

    /// <summary>The arguments of the half measured beside the others (<c>--versus-arg</c>).</summary>
    public IReadOnlyList<string> VersusArguments { get; init; } = [];

    /// <summary>The other build of the half measured beside the others (<c>--versus-serve</c>), or null.</summary>
    public string? VersusServe { get; init; }

    /// <summary>End to end with <see cref="VersusArguments"/> or on <see cref="VersusServe"/>, or null when not measured.</summary>
    public Spread? VersusEndToEndMessagesPerSecond { get; init; }

    /// <summary>That over the same without them.</summary>
    public Spread? VersusRatio { get; init; }

    /// <summary>Serve's peak RSS in that half.</summary>
    public Spread? VersusPeakRssBytes { get; init; }

    /// <summary>End to end over TLS (<c>--tls</c>), or null when not measured.</summary>
    public Spread? TlsEndToEndMessagesPerSecond { get; init; }

    /// <summary>That over the same over plain TCP, with the same spill setting (<see cref="TlsSpillOn"/>).</summary>
    public Spread? TlsRatio { get; init; }

    /// <summary>Serve's peak RSS over TLS.</summary>
    public Spread? TlsPeakRssBytes { get; init; }

    /// <summary>Whether the TLS half ran with the spill log on; null without <c>--tls</c>.</summary>
    public bool? TlsSpillOn { get; init; }

    public static BenchReport Of(string sink, string database, BenchSettings settings, IReadOnlyList<RunResult> runs) => new(
        sink, database, settings.Messages, settings.Warmup, settings.Size, settings.Connections, settings.BatchSize, settings.Writers, runs.Count,
        Environment.ProcessorCount,
        Spread.Of(runs.Select(r => r.CeilingRowsPerSecond)),
        OfAll(runs.Select(r => r.EndToEndMessagesPerSecond)),
        Spread.Of(runs.Select(r => r.Ratio)),
        OfAll(runs.Select(r => (double?)r.Memory?.PeakResidentBytes)),
        OfAll(runs.Select(r => r.SpillMessagesPerSecond)),
        OfAll(runs.Select(r => r.SpillRatio)),
        OfAll(runs.Select(r => (double?)r.Spill?.PeakResidentBytes)),
        OfAll(runs.Select(r => r.CpuBusyBefore)),
        runs.Sum(r => r.Lost), runs.Sum(r => r.Duplicated), runs.Sum(r => r.Rejected))
    {
        ServeArguments = settings.ServeArguments,
        ExpiredRows = settings.ExpiredRows,
        VersusArguments = settings.VersusArguments,
        VersusServe = settings.VersusServe,
        VersusEndToEndMessagesPerSecond = OfAll(runs.Select(r => r.VersusMessagesPerSecond)),
        VersusRatio = OfAll(runs.Select(r => r.VersusRatio)),
        VersusPeakRssBytes = OfAll(runs.Select(r => (double?)r.Versus?.PeakResidentBytes)),
        TlsEndToEndMessagesPerSecond = OfAll(runs.Select(r => r.TlsMessagesPerSecond)),
        TlsRatio = OfAll(runs.Select(r => r.TlsRatio)),
        TlsPeakRssBytes = OfAll(runs.Select(r => (double?)r.Tls?.PeakResidentBytes)),
        TlsSpillOn = settings.Tls ? settings.TlsSpillOn : null,
    };

    /// <summary>The spread of a figure every run has; null when some run lacks it (not measured, or not measurable here).</summary>
    private static Spread? OfAll(IEnumerable<double?> values)
    {
        var all = values.ToList();
        return all.All(v => v is not null) ? Spread.Of(all.Select(v => v!.Value)) : null;
    }

    /// <summary>More CPU than this busy with other work before a run, and its figures are not the machine's.</summary>
    public const double QuietEnough = 0.10;

    /// <summary>True when every message sent was stored exactly once, as a message.</summary>
    public bool Exact => Lost == 0 && Duplicated == 0 && Rejected == 0;

    public string ToJson() => JsonSerializer.Serialize(this, BenchJsonContext.Default.BenchReport);

    /// <summary>The table for people: one row per figure, median, min and max over the runs.</summary>
    public string ToTable()
    {
        var text = new StringBuilder();
        var writers = (Writers is { } w ? $", {w} writers" : "") + (ServeArguments.Count > 0 ? $", serve {string.Join(' ', ServeArguments)}" : "")
            + (ExpiredRows > 0 ? $", {ExpiredRows:N0} expired rows stored before each run" : "");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"spillway-bench: {Sink} ({Database}), {Messages:N0} messages (after {Warmup:N0} to warm up) of {Size} bytes over {Connections} connection(s), batch {BatchSize:N0}{writers}, {Runs} run(s), {ProcessorCount} cores");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"",-28}{"median",12}{"min",12}{"max",12}");
        Row("ceiling (rows/s)", CeilingRowsPerSecond, "N0");
        if (EndToEndMessagesPerSecond is { } memory)
        {
            Row("end-to-end (msg/s)", memory, "N0");
        }

        Row(EndToEndMessagesPerSecond is null ? "end-to-end, spill / ceiling" : "end-to-end / ceiling", Ratio, "F2");
        if (PeakRssBytes is { } rss)
        {
            Row("peak RSS of serve (MiB)", Mib(rss), "N0");
        }

        if (SpillEndToEndMessagesPerSecond is { } spill)
        {
            Row("spill on: end-to-end (msg/s)", spill, "N0");
        }

        if (SpillRatio is { } spillRatio)
        {
            Row("spill on / off", spillRatio, "F2");
        }

        if (SpillPeakRssBytes is { } spillRss)
        {
            Row("spill on: peak RSS (MiB)", Mib(spillRss), "N0");
        }

        if (VersusEndToEndMessagesPerSecond is { } versus && VersusRatio is { } versusRatio)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"with {BenchSettings.DescribeVersus(VersusArguments, VersusServe)}:");
            Row("  end-to-end (msg/s)", versus, "N0");
            Row("  with / without", versusRatio, "F2");
            if (VersusPeakRssBytes is { } versusRss)
            {
                Row("  peak RSS (MiB)", Mib(versusRss), "N0");
            }
        }

        if (TlsEndToEndMessagesPerSecond is { } overTls && TlsRatio is { } tlsRatio)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"over TLS (spill {(TlsSpillOn == true ? "on" : "off")}):");
            Row("  end-to-end (msg/s)", overTls, "N0");
            Row("  TLS / plain", tlsRatio, "F2");
            if (TlsPeakRssBytes is { } tlsRss)
            {
                Row("  peak RSS (MiB)", Mib(tlsRss), "N0");
            }
        }

        if (CpuBusyBefore is { } busy)
        {
            Row("CPU busy before a run (%)", new Spread(busy.Median * 100, busy.Min * 100, busy.Max * 100), "N0");
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"{"lost, duplicated, rejected",-28}{$"{Lost}, {Duplicated}, {Rejected}",12}");
        return text.ToString();

        static Spread Mib(Spread bytes) => new(bytes.Median / (1 << 20), bytes.Min / (1 << 20), bytes.Max / (1 << 20));

        void Row(string name, Spread spread, string format) => text.AppendLine(CultureInfo.InvariantCulture,
            $"{name,-28}{spread.Median.ToString(format, CultureInfo.InvariantCulture),12}{spread.Min.ToString(format, CultureInfo.InvariantCulture),12}{spread.Max.ToString(format, CultureInfo.InvariantCulture),12}");
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
