using System.Globalization;

namespace Spillway.Bench;

/// <summary>
/// How busy the machine's CPUs are, from <c>/proc/stat</c>: sampled while the benchmark itself is idle, it says
/// whether something else is running that would take cores from the run and make its figures low.
/// </summary>
internal static class CpuBusy
{
    /// <summary>The busy fraction of all CPUs (0 to 1) over <paramref name="window"/>; null where <c>/proc/stat</c> is not.</summary>
    public static async Task<double?> SampleAsync(TimeSpan window, CancellationToken cancellationToken)
    {
        if (Read() is not { } before)
        {
            return null;
        }

        await Task.Delay(window, TimeProvider.System, cancellationToken);
        if (Read() is not { } after || after.Total <= before.Total)
        {
            return null;
        }

        return (double)(after.Busy - before.Busy) / (after.Total - before.Total);
    }

    /// <summary>The first line of <c>/proc/stat</c>: <c>cpu user nice system idle iowait irq softirq steal ...</c>, in ticks.</summary>
    private static (long Busy, long Total)? Read()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var ticks = fields.Skip(1).Take(8).Select(f => long.Parse(f, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
            var idle = ticks[3] + ticks[4]; // idle and iowait
            var total = ticks.Sum();
            return (total - idle, total);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException
                                   or IndexOutOfRangeException)
        {
            return null; // not Linux: nothing to report
        }
    }
}
