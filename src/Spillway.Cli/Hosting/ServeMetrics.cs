using System.Diagnostics.Metrics;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Cli.Hosting;

/// <summary>
/// The instruments only the composed service can observe: each writer's state and the connections open per
/// listener. The pipeline's own are on <see cref="PipelineMetrics"/>, on the same meter.
/// </summary>
internal sealed class ServeMetrics
{
    private static readonly WriterState[] States = Enum.GetValues<WriterState>();

    public ServeMetrics(PipelineMetrics pipeline, WriterPool pool, IEnumerable<ISource> sources, IBufferDiagnostics diagnostics)
    {
        var listeners = sources.ToList();
        pipeline.Meter.CreateObservableGauge("spillway.writer.state", () => WriterStates(pool), "{writer}",
            "1 for the state each writer is in and 0 for the others, by writer and state");
        pipeline.Meter.CreateObservableUpDownCounter("spillway.connections.open",
            () => listeners.Where(s => s.Transport == Transport.Tcp).Select(s =>
                new Measurement<int>(s.OpenConnections, new KeyValuePair<string, object?>("source", s.Transport.ToName()))),
            "{connection}", "Connections open now, by source (HTTP's are kestrel.active_connections)");
        pipeline.Meter.CreateObservableCounter("spillway.connections.refused",
            () => Per(listeners, Transport.Tcp, s => s.Limits.ConnectionsRefused), "{connection}",
            "Connections accepted and closed at once because the listener held --tcp-max-connections already, by source");
        pipeline.Meter.CreateObservableCounter("spillway.connections.idle_closed",
            () => Per(listeners, Transport.Tcp, s => s.Limits.IdleClosed), "{connection}",
            "Connections closed after --tcp-idle-timeout with nothing received, by source");
        pipeline.Meter.CreateObservableCounter("spillway.http.requests.refused",
            () => Per(listeners, Transport.Http, s => s.Limits.RequestsRefused), "{request}",
            "Requests answered 503 before their body was read, because --http-max-body-bytes-in-flight was held already");
        pipeline.Meter.CreateObservableCounter("spillway.rows.expired", () => pool.Sinks.Sum(s => s.Expired), "{row}",
            "Rows of messages and rejects deleted by --retention or --max-db-bytes (PostgreSQL: those deleted one by one; a day's " +
            "partition dropped whole is logged instead)");
        pipeline.Meter.CreateObservableGauge("spillway.retention", () => pool.Sinks.Count == 0 ? 0 : pool.Sinks[0].RetentionAge.TotalSeconds,
            "s", "How long stored rows are kept, --retention; 0 keeps every row");
        diagnostics.AddInstruments(pipeline.Meter);
    }

    private static IEnumerable<Measurement<long>> Per(List<ISource> sources, Transport transport, Func<ISource, long> count) =>
        sources.Where(s => s.Transport == transport)
            .Select(s => new Measurement<long>(count(s), new KeyValuePair<string, object?>("source", s.Transport.ToName())));

    private static IEnumerable<Measurement<int>> WriterStates(WriterPool pool) =>
        pool.Writers.SelectMany((writer, i) => States.Select(state => new Measurement<int>(
            writer.State == state ? 1 : 0,
            new KeyValuePair<string, object?>("writer", i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()))));
}
