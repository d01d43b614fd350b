using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Spillway.Cli.Status;

/// <summary>Renders a <see cref="StatusSnapshot"/> (with rates against the one before it) as Spectre.Console tables.</summary>
internal static class StatusView
{
    public static IRenderable Render(Uri url, StatusSnapshot now, StatusSnapshot? before)
    {
        var seconds = before is null ? 0 : TimeProvider.System.GetElapsedTime(before.Timestamp, now.Timestamp).TotalSeconds;
        string Rate(Func<StatusSnapshot, double> read) =>
            before is null || seconds <= 0 ? "-" : Number(Math.Max(0, read(now) - read(before)) / seconds);

        var healthy = now.Health == "healthy";
        var title = new Markup($"[bold]spillway[/] at {Markup.Escape(url.ToString())}: " +
            (healthy ? "[green]healthy[/]" : $"[red bold]{Markup.Escape(now.Health)}[/]"));

        var flow = new Table().Title("messages").AddColumns("", "per second", "total");
        foreach (var source in StatusSnapshot.Sources)
        {
            flow.AddRow($"received {source}", Rate(s => s.Received(source)), Number(now.Received(source)));
        }

        flow.AddRow("[green]stored[/]", Rate(s => s.Stored), Number(now.Stored));
        foreach (var reason in now.RejectReasons)
        {
            flow.AddRow($"[yellow]rejected {Markup.Escape(reason)}[/]", Rate(s => s.Rejected(reason)), Number(now.Rejected(reason)));
        }

        flow.AddRow(now.RetentionSeconds > 0
                ? $"expired (older than {Sinks.Retention.Format(TimeSpan.FromSeconds(now.RetentionSeconds))})"
                : "expired (no --retention)",
            Rate(s => s.Expired), Number(now.Expired));
        foreach (var source in StatusSnapshot.Sources)
        {
            flow.AddRow($"[red]dropped {source}[/]", Rate(s => s.Dropped(source)), Number(now.Dropped(source)));
        }

        var buffer = new Table().Title("buffer").AddColumns("", "held", "limit", "fill");
        buffer.AddRow("messages", Number(now.BufferMessages), Number(now.BufferMessagesLimit), Percent(now.BufferMessages, now.BufferMessagesLimit));
        buffer.AddRow("bytes", Number(now.BufferBytes), Number(now.BufferBytesLimit), Percent(now.BufferBytes, now.BufferBytesLimit));

        var writers = new Table().Title("writers").AddColumns("writer", "state", "retrying since", "last error");
        foreach (var w in now.Writers)
        {
            var state = w.State == "retrying" ? $"[red]{w.State}[/]" : w.State;
            writers.AddRow(w.Writer.ToString(CultureInfo.InvariantCulture), state, w.RetryingSince ?? "", Markup.Escape(w.LastError ?? ""));
        }

        var listeners = new Table().Title("listeners").AddColumns("source", "endpoints", "state", "connections", "last error");
        foreach (var l in now.Listeners)
        {
            var state = l.State == "failing" ? $"[red]{l.State}[/]" : l.State;
            listeners.AddRow(l.Source, string.Join(", ", l.Endpoints), state,
                l.OpenConnections?.ToString(CultureInfo.InvariantCulture) ?? "", Markup.Escape(l.LastError ?? ""));
        }

        var rows = new List<IRenderable> { title };
        rows.AddRange(now.Problems.Select(p => new Markup($"[red]{Markup.Escape(p)}[/]")));
        rows.AddRange([flow, buffer, writers, listeners]);
        if (now.JetStream is { } js)
        {
            var stream = new Table().Title($"jetstream ({Markup.Escape(js.Role)})").AddColumns("", "per second", "now or total");
            stream.AddRow("server", "", js.Connected ? Markup.Escape(js.Server ?? "") : "[red]not connected[/]");
            stream.AddRow($"stream {Markup.Escape(js.Stream)} messages", "", Count(js.StreamMessages));
            stream.AddRow("stream bytes", "", Count(js.StreamBytes));
            if (js.Role != "edge")
            {
                stream.AddRow("consumer pending", "", Count(js.ConsumerPending));
                stream.AddRow("ack pending", "", Count(js.AckPending));
                stream.AddRow("taken", Rate(s => s.Taken), Number(now.Taken));
                stream.AddRow("[yellow]redelivered[/]", Rate(s => s.Redelivered), Number(now.Redelivered));
            }

            if (js.Role != "writer")
            {
                stream.AddRow("published", Rate(s => s.Published), Number(now.Published));
                stream.AddRow("[red]publish failures[/]", Rate(s => s.PublishFailures), Number(now.PublishFailures));
                var published = before is null ? 0 : now.PublishCount - before.PublishCount;
                stream.AddRow("publish to ack, mean", "",
                    published > 0 ? ((now.PublishSeconds - before!.PublishSeconds) / published * 1000).ToString("F1", CultureInfo.InvariantCulture) + " ms" : "-");
            }

            rows.Add(stream);
        }

        return new Rows(rows);
    }

    private static string Count(long? value) => value is { } v ? Number(v) : "-";

    private static string Number(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Percent(double value, double limit) =>
        limit > 0 ? (value / limit).ToString("P0", CultureInfo.InvariantCulture) : "-";
}
