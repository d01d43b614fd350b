using System.Diagnostics.Metrics;
using Spillway.Diagnostics;
using Spillway.Http;
using Spillway.Keys;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Tls;

namespace Spillway.Cli.Hosting;

/// <summary>
/// The instruments only the composed service can observe: each writer's state and the connections open per
/// listener. The pipeline's own are on <see cref="PipelineMetrics"/>, on the same meter.
/// </summary>
internal sealed class ServeMetrics
{
    private static readonly WriterState[] States = Enum.GetValues<WriterState>();

    public ServeMetrics(
        PipelineMetrics pipeline, WriterPool pool, IEnumerable<ISource> sources, IBufferDiagnostics diagnostics, ServeSettings settings,
        IEnumerable<TlsCredentialStore> tls, IEnumerable<ApiKeyStore> keys, IEnumerable<StreamWriters> stream)
    {
        var listeners = sources.ToList();
        // A node of both scale-out roles: the edge's writers first, then those taking from the stream.
        var writers = pool.Writers.Concat(stream.SelectMany(s => s.Pool.Writers)).ToList();
        pipeline.Meter.CreateObservableGauge("spillway.writer.state", () => WriterStates(writers), "{writer}",
            "1 for the state each writer is in and 0 for the others, by writer and state");
        pipeline.Meter.CreateObservableUpDownCounter("spillway.connections.open",
            () => listeners.Where(s => s.Transport is Transport.Tcp or Transport.Tls).Select(s =>
                new Measurement<int>(s.OpenConnections, new KeyValuePair<string, object?>("source", s.Transport.ToName()))),
            "{connection}", "Connections open now, by source (HTTP's are kestrel.active_connections)");
        pipeline.Meter.CreateObservableCounter("spillway.connections.refused",
            () => Per(listeners, [Transport.Tcp, Transport.Tls], s => s.Limits.ConnectionsRefused), "{connection}",
            "Connections accepted and closed at once because the listener held --tcp-max-connections already, by source");
        pipeline.Meter.CreateObservableCounter("spillway.connections.idle_closed",
            () => Per(listeners, [Transport.Tcp, Transport.Tls], s => s.Limits.IdleClosed), "{connection}",
            "Connections closed after --tcp-idle-timeout with nothing received, by source");
        pipeline.Meter.CreateObservableCounter("spillway.http.requests.refused",
            () => Per(listeners, [Transport.Http], s => s.Limits.RequestsRefused), "{request}",
            "Requests answered 503 before their body was read, because --http-max-body-bytes-in-flight was held already");
        pipeline.Meter.CreateObservableCounter("spillway.rows.expired", () => pool.Sinks.Sum(s => s.Expired), "{row}",
            "Rows of messages and rejects deleted by --retention or --max-db-bytes (PostgreSQL: those deleted one by one; a day's " +
            "partition dropped whole is logged instead)");
        pipeline.Meter.CreateObservableGauge("spillway.retention", () => pool.Sinks.Count == 0 ? 0 : pool.Sinks[0].RetentionAge.TotalSeconds,
            "s", "How long stored rows are kept, --retention; 0 keeps every row");
        if (tls.FirstOrDefault() is { } store)
        {
            // The TLS listener's own source, and the HTTP source's refusals under https (its plain endpoints refuse no handshake).
            var secured = listeners.Where(s => s.Transport == Transport.Tls || (s.Transport == Transport.Http && settings.ListenHttps.Count > 0))
                .Select(s => (Source: s, Name: s.Transport == Transport.Http ? Transport.Https.ToName() : s.Transport.ToName()))
                .ToList();
            pipeline.Meter.CreateObservableCounter("spillway.tls.handshakes.refused",
                () => secured.SelectMany(s =>
                {
                    var refused = s.Source.Limits.HandshakesRefused;
                    return TlsHandshake.Reasons.Select(reason => new Measurement<long>(refused.GetValueOrDefault(reason),
                        new KeyValuePair<string, object?>("source", s.Name), new KeyValuePair<string, object?>("reason", reason)));
                }),
                "{handshake}", "TLS connections closed before or in their handshake, by source and reason (not-tls, protocol-version, " +
                "no-client-certificate, untrusted-client-certificate, peer-not-allowed, handshake-timeout, handshake-failed)");
            pipeline.Meter.CreateObservableGauge("spillway.tls.certificate.expiry",
                () => CertificateExpiry(store.Current), "s",
                "When each certificate in force expires, as Unix time: the server certificate, and the first of the client CA's to expire");
            pipeline.Meter.CreateObservableGauge("spillway.tls.reload.failing", () => store.Failure is null ? 0 : 1, "",
                "1 while the TLS files in place do not load (the credentials loaded before are served), 0 once they do");
            pipeline.Meter.CreateObservableCounter("spillway.tls.reloads", () => store.Reloads, "{reload}",
                "Reloads that put new TLS credentials in force (a file changed, or SIGHUP)");
        }

        if (keys.FirstOrDefault() is { } keyStore)
        {
            AddKeyInstruments(pipeline.Meter, keyStore, listeners.Where(s => s.Transport == Transport.Http).ToList());
        }

        diagnostics.AddInstruments(pipeline.Meter);
    }

    /// <summary>
    /// The API keys' instruments. The <c>key</c> label is a name from the keys file (those in force, and those that sent
    /// before a reload removed them), never anything a request says, so its values are as many as the file's lines.
    /// </summary>
    private static void AddKeyInstruments(Meter meter, ApiKeyStore store, List<ISource> http)
    {
        meter.CreateObservableCounter("spillway.http.unauthorized",
            () => HttpSource.UnauthorizedReasons.Select(reason => new Measurement<long>(
                http.Sum(s => s.Limits.RequestsUnauthorized.GetValueOrDefault(reason)), new KeyValuePair<string, object?>("reason", reason))),
            "{request}", "Requests answered 401, by reason: no-api-key, wrong-api-key (wrong, or removed from --api-keys)");
        meter.CreateObservableCounter("spillway.api_key.requests",
            () => KeyNames(store).SelectMany(name =>
            {
                var counts = store.Counts.GetValueOrDefault(name);
                return new[] { ("taken", counts?.Requests ?? 0), ("rate-limited", counts?.Limited ?? 0) }.Select(o =>
                    new Measurement<long>(o.Item2, new KeyValuePair<string, object?>("key", name), new KeyValuePair<string, object?>("outcome", o.Item1)));
            }),
            "{request}", "POST /ingest requests by API key and outcome: taken (answered 200), rate-limited (answered 429, nothing taken)");
        meter.CreateObservableCounter("spillway.api_key.messages",
            () => KeyNames(store).Select(name => new Measurement<long>(store.Counts.GetValueOrDefault(name)?.Messages ?? 0,
                new KeyValuePair<string, object?>("key", name))),
            "{message}", "Messages taken (answered 200) by API key");
        meter.CreateObservableGauge("spillway.api_keys", () => store.Keys.Count, "{key}", "API keys in force");
        meter.CreateObservableGauge("spillway.api_keys.reload.failing", () => store.Failure is null ? 0 : 1, "",
            "1 while the API keys file in place does not load (the keys loaded before stay in force), 0 once it does");
        meter.CreateObservableCounter("spillway.api_keys.reloads", () => store.Reloads, "{reload}",
            "Reloads that put a changed set of API keys in force (the file changed, or SIGHUP)");
    }

    private static IEnumerable<string> KeyNames(ApiKeyStore store) => store.Keys.Select(k => k.Name).Union(store.Counts.Keys, StringComparer.Ordinal);

    private static IEnumerable<Measurement<long>> CertificateExpiry(TlsCredentials credentials)
    {
        yield return new Measurement<long>(credentials.NotAfter.ToUnixTimeSeconds(), new KeyValuePair<string, object?>("certificate", "server"));
        if (credentials.ClientCaNotAfter is { } ca)
        {
            yield return new Measurement<long>(ca.ToUnixTimeSeconds(), new KeyValuePair<string, object?>("certificate", "client-ca"));
        }
    }

    private static IEnumerable<Measurement<long>> Per(List<ISource> sources, Transport[] transports, Func<ISource, long> count) =>
        sources.Where(s => transports.Contains(s.Transport))
            .Select(s => new Measurement<long>(count(s), new KeyValuePair<string, object?>("source", s.Transport.ToName())));

    private static IEnumerable<Measurement<int>> WriterStates(List<BatchWriter> writers) =>
        writers.SelectMany((writer, i) => States.Select(state => new Measurement<int>(
            writer.State == state ? 1 : 0,
            new KeyValuePair<string, object?>("writer", i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()))));
}
