using Spillway.Cli.Status;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// serve's <c>/metrics</c> as the tests read it, parsed by the CLI's own reader: synchronously, since
/// <see cref="Spillway.Testing.Eventually"/> waits on a plain condition.
/// </summary>
internal static class Scrape
{
    public static IReadOnlyList<Sample> Metrics(HttpClient client) =>
        PrometheusText.Parse(client.GetStringAsync("metrics", TestContext.Current.CancellationToken).GetAwaiter().GetResult());

    /// <summary>The sum of a family's samples.</summary>
    public static double Sum(HttpClient client, string name) => Metrics(client).Sum(name);
}
