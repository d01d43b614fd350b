using System.Net;
using Spillway.Http;
using Spillway.JetStream;
using Spillway.Pipeline;
using Spillway.Sinks;
using Spillway.Sinks.Sqlite;
using Spillway.Spill;
using Spillway.Tcp;
using Spillway.Tls;
using Spillway.Udp;
using static Spillway.Cli.Hosting.SettingSection;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Every setting of <c>spillway serve</c>, each declared once: name, kind, default, bounds, help and docs section.
/// <c>serve</c> and <c>check-config</c> make their flags from it, <see cref="ServeSettings"/> reads and validates the
/// file, environment and flags by it, and the configuration reference in docs/operations.md is generated from it
/// (tests/Spillway.Cli.Tests/SettingsReference.cs). Adding a setting is a line here and its use.
/// </summary>
internal static class SettingsTable
{
    /// <summary>The default of <c>--writers</c> with PostgreSQL, chosen by measurement (docs/performance.md).</summary>
    public const int DefaultPostgresWriters = 2;

    // Static fields are initialised in the order they are written, so this list, first, takes each setting as it is made.
    private static readonly List<Setting> Declared = [];

    public static readonly Setting<IPEndPoint> ListenTcp = Declare(Setting.Endpoints("ListenTcp", TcpSourceOptions.DefaultEndpoint, Listeners,
        "Listen for TCP syslog (LF, NUL or octet-counted frames) here; repeatable; port 0 picks a free port; *:PORT for every IPv4 " +
        "interface, [::1]:PORT for IPv6; none turns TCP off"));

    public static readonly Setting<IPEndPoint> ListenUdp = Declare(Setting.Endpoints("ListenUdp", UdpSourceOptions.DefaultEndpoint, Listeners,
        "Listen for UDP syslog (one datagram, one message) here; repeatable; none turns UDP off"));

    public static readonly Setting<IPEndPoint> ListenHttp = Declare(Setting.Endpoints("ListenHttp", HttpSourceOptions.DefaultEndpoint, Listeners,
        "Listen for POST /ingest (text/plain, application/x-ndjson, application/json), GET /metrics and GET /health here; " +
        "repeatable; none turns HTTP off"));

    public static readonly Setting<IPEndPoint> ListenTls = Declare(Setting.Endpoints("ListenTls", Listeners,
        "Listen for syslog over TLS (RFC 5425; 6514 is its port) here, with the framings of TCP inside the TLS stream and its limits; " +
        "repeatable; needs --tls-cert and --tls-key"));

    public static readonly Setting<IPEndPoint> ListenHttps = Declare(Setting.Endpoints("ListenHttps", Listeners,
        "Serve what --listen-http serves, over HTTPS (HTTP/1.1 in TLS), here; repeatable; needs --tls-cert and --tls-key"));

    public static readonly Setting<IPEndPoint> ListenAdmin = Declare(Setting.Endpoints("ListenAdmin", Listeners,
        "Serve GET /metrics and GET /health here, plain HTTP, and no longer on --listen-http and --listen-https (which then serve " +
        "POST /ingest alone); repeatable; none, the default, serves them beside POST /ingest"));

    public static readonly Setting<FullPolicy> TcpWhenFull = Declare(Setting.Choice("TcpWhenFull", FullPolicy.Wait, Listeners,
        "When the buffer is full, TCP waits (stops reading, pushing back on senders) or reads on and drops, counted, what does not fit"));

    public static readonly Setting<FullPolicy> UdpWhenFull = Declare(Setting.Choice("UdpWhenFull", FullPolicy.Drop, Listeners,
        "When the buffer is full, UDP drops and counts, or stops reading (the kernel then drops what no longer fits, uncounted)"));

    public static readonly Setting<FullPolicy> HttpWhenFull = Declare(Setting.Choice("HttpWhenFull", FullPolicy.Drop, Listeners,
        "When the buffer is full, HTTP answers 503 with Retry-After and takes none of the request (drop), or holds the request " +
        "until there is room (wait)"));

    public static readonly Setting<long> UdpReceiveBuffer = Declare(Setting.ByteSize("UdpReceiveBuffer", UdpSourceOptions.DefaultReceiveBufferBytes,
        1024, int.MaxValue, Listeners,
        "The UDP socket's receive buffer (SO_RCVBUF; Linux doubles it and caps it at net.core.rmem_max); the size granted is logged"));

    public static readonly Setting<long> HttpMaxBodyBytes = Declare(Setting.ByteSize("HttpMaxBodyBytes", HttpSourceOptions.DefaultMaxBodyBytes,
        1, 1L << 30, Listeners, "The largest request body; a larger one is answered 413"));

    public static readonly Setting<long> TcpMaxConnections = Declare(Setting.Count("TcpMaxConnections", "COUNT",
        TcpSourceOptions.DefaultMaxConnections, 1, 1_000_000, Listeners,
        "The most TCP connections open at once on each listener; one more is accepted and closed at once, counted in " +
        "spillway_connections_refused_total (an idle connection costs about 4 KiB: docs/operations.md, Limits)"));

    public static readonly Setting<TimeSpan> TcpIdleTimeout = Declare(Setting.Duration("TcpIdleTimeout", TimeSpan.Zero,
        TimeSpan.Zero, TimeSpan.FromDays(30), Listeners,
        "Close a TCP connection that sends nothing for this long, counted in spillway_connections_idle_closed_total; 0ms keeps " +
        "quiet connections open, as syslog senders expect"));

    public static readonly Setting<long> HttpMaxBodyBytesInFlight = Declare(Setting.ByteSize("HttpMaxBodyBytesInFlight",
        HttpSourceOptions.DefaultMaxBodyBytesInFlight, 1, 1L << 40, Listeners,
        "The most bytes of request bodies read at once across requests; a request beyond it is answered 503 with Retry-After " +
        "before its body is read, counted in spillway_http_requests_refused_total"));

    public static readonly Setting<long> MaxMessageBytes = Declare(Setting.ByteSize("MaxMessageBytes", TcpSourceOptions.DefaultMaxMessageBytes,
        1, 64L << 20, Listeners, "The longest message; a longer frame is cut to it and kept in the rejects table as oversize"));

    public static readonly Setting<string> TlsCert = Declare(Setting.Text("TlsCert", "PATH", "", SettingSection.Tls,
        "The certificate the TLS listeners present, PEM: the leaf first, then the intermediates to serve with it. Read again when " +
        "it changes or on SIGHUP; a file that does not load keeps the one in force (shown in /health)"));

    public static readonly Setting<string> TlsKey = Declare(Setting.Text("TlsKey", "PATH", "", SettingSection.Tls,
        "The private key of --tls-cert, PEM (RSA or EC, not encrypted); keep it readable by the service's user only"));

    public static readonly Setting<string> TlsClientCa = Declare(Setting.Text("TlsClientCa", "PATH", "", SettingSection.Tls,
        "Mutual TLS: every TLS client must present a certificate that chains to one of these CA certificates (PEM); none asks " +
        "for no client certificate"));

    public static readonly Setting<string> TlsAllowedPeer = Declare(Setting.TextList("TlsAllowedPeer", "NAME",
        "a DNS name such as relay1.example.com, or *. and one (*.example.com matches one label)", PeerNames.IsValidPattern,
        SettingSection.Tls,
        "Mutual TLS: who may send, matched against the client certificate's DNS names, then its subject's CN; repeatable; " +
        "none lets in every certificate that chains to --tls-client-ca"));

    public static readonly Setting<string> ApiKeys = Declare(Setting.Text("ApiKeys", "PATH", "", SettingSection.ApiKeys,
        "POST /ingest needs an API key from this file (Authorization: Bearer KEY or X-API-Key: KEY), else 401; one key a line, " +
        "NAME sha256:HEX [rate=N] [burst=N], as `spillway key new NAME` prints it. Read again when it changes or on SIGHUP; a file " +
        "that does not load keeps the keys in force (shown in /health)"));

    public static readonly Setting<bool> ProtectAdmin = Declare(Setting.Switch("ProtectAdmin", SettingSection.ApiKeys,
        "GET /metrics and /health need an API key from --api-keys too (any key; its rate limit does not apply)"));

    public static readonly Setting<string> Sqlite = Declare(Setting.Text("Sqlite", "PATH", SqliteSinkOptions.DefaultPath, Database,
        "The SQLite database file, created with its directory if missing"));

    public static readonly Setting<SqliteSynchronous> SqliteSynchronous = Declare(Setting.Choice("SqliteSynchronous",
        Spillway.Sinks.Sqlite.SqliteSynchronous.Normal, Database,
        "SQLite's PRAGMA synchronous. In WAL mode normal survives any crash of the process, and a power loss may take the last " +
        "batches; full syncs every batch to disk; off never syncs"));

    public static readonly Setting<bool> SqliteAllowDamaged = Declare(Setting.Switch("SqliteAllowDamaged", Database,
        "Write into a SQLite database that fails PRAGMA quick_check at start (with a warning), instead of refusing to start; " +
        "what is written may be lost with the damage"));

    public static readonly Setting<string> Postgres = Declare(Setting.Text("Postgres", "CONNECTION", "", Database,
        "Write to PostgreSQL instead of SQLite: an Npgsql connection string, such as \"Host=db;Username=spillway;Database=logs\"; " +
        "a password in it is masked wherever Spillway prints it",
        secret: true));

    public static readonly Setting<string> PostgresTablePrefix = Declare(Setting.Text("PostgresTablePrefix", "PREFIX", "", Database,
        "Put before the PostgreSQL table names: PREFIXmessages, PREFIXrejects, PREFIXbatches"));

    public static readonly Setting<TimeSpan> Retention = Declare(Setting.Duration("Retention", TimeSpan.Zero,
        TimeSpan.Zero, TimeSpan.FromDays(36_500), Database,
        "Delete stored messages and rejects received longer ago than this (such as 30d), in chunks between batches, with an " +
        "index on received_at; 0ms keeps every row (said at start)"));

    public static readonly Setting<long> MaxDbBytes = Declare(Setting.ByteSize("MaxDbBytes", 0, 0, long.MaxValue, Database,
        "SQLite only: past this size the oldest messages and rejects are deleted, a chunk at a time, until the file is a tenth " +
        "under it (counted in spillway_rows_expired_total, said once a minute); 0 sets no bound. At least 1MiB"));

    public static readonly Setting<MessageIndexes> Indexes = Declare(new Setting<MessageIndexes>("Indexes", "LIST",
        MessageIndex.Default, "none, or a comma-separated list of time, host, app, severity", MessageIndex.TryParse,
        MessageIndex.Format,
        "The indexes on messages for spillway query and tail: time (received_at), host, app, severity (each with the id, newest " +
        "first); each costs insert speed (docs/operations.md, \"Indexes\"). Those not listed are dropped; time stays while " +
        "--retention is set", Database));

    public static readonly Setting<long> Writers = Declare(Setting.Count("Writers", "N", 1, 1, 64, Database,
        "Writers storing batches in parallel, each with a connection of its own; SQLite takes one. On an edge (--role edge), " +
        "the batches published to the stream at once",
        defaultText: $"{DefaultPostgresWriters} with PostgreSQL or on an edge, 1 with SQLite"));

    public static readonly Setting<long> MaxBufferMessages = Declare(Setting.Count("MaxBufferMessages", "COUNT", IngestBufferOptions.DefaultMaxMessages,
        1, int.MaxValue, SettingSection.Buffer,
        "Messages held in memory: the spill log's copy, from which writers that keep up take their batches; with --spill-dir none, " +
        "the most accepted and not yet stored (beyond it TCP senders are pushed back)"));

    public static readonly Setting<long> MaxBufferBytes = Declare(Setting.ByteSize("MaxBufferBytes", IngestBufferOptions.DefaultMaxBytes,
        1, long.MaxValue, SettingSection.Buffer,
        "Bytes of messages held in memory: the spill log's copy, and apart from it the records waiting to be written to the disk " +
        "(beyond it TCP is pushed back, beyond twice it UDP dropped and HTTP answered 503, as when the disk budget is spent; a " +
        "disk whose fsync takes T ms takes at most this much per T ms); with --spill-dir none, the bytes accepted and not yet stored",
        defaultText: $"{ValueParsers.FormatByteSize(SpillOptions.DefaultMemoryBytes)} with the spill log, " +
            $"{ValueParsers.FormatByteSize(IngestBufferOptions.DefaultMaxBytes)} with --spill-dir none"));

    public static readonly Setting<long> BatchSize = Declare(Setting.Count("BatchSize", "COUNT", BatchWriterOptions.DefaultBatchSize,
        1, 1_000_000, SettingSection.Buffer, "The most messages written in one transaction"));

    public static readonly Setting<TimeSpan> BatchLinger = Declare(Setting.Duration("BatchLinger", BatchWriterOptions.DefaultLinger,
        TimeSpan.Zero, TimeSpan.FromMinutes(1), SettingSection.Buffer,
        "How long a batch waits to fill before it is written anyway"));

    public static readonly Setting<string> SpillDir = Declare(Setting.Text("SpillDir", "PATH|none", "", SpillLog,
        "The spill log: every accepted message is on disk here until it is stored, so it survives kill -9, and a database outage " +
        "fills the disk instead of pushing back on senders (docs/durability.md); none keeps accepted messages in memory only",
        defaultText: "the SQLite file's path + .spill; spillway.spill in the working directory with PostgreSQL"));

    public static readonly Setting<long> SpillMaxBytes = Declare(Setting.ByteSize("SpillMaxBytes", SpillOptions.DefaultMaxBytes, 1L << 20,
        long.MaxValue, SpillLog,
        "The most disk the spill log may use; beyond it TCP is pushed back, UDP dropped (counted) and HTTP answered 503"));

    public static readonly Setting<SpillFsync> SpillFsync = Declare(Setting.Choice("SpillFsync", Spillway.Spill.SpillFsync.Batch, SpillLog,
        "When the spill log is forced to disk: before each group of appends counts as acknowledged (batch; survives a power loss), " +
        "every --spill-fsync-interval (interval), or never (survives a crash of the process, not of the machine)"));

    public static readonly Setting<TimeSpan> SpillFsyncInterval = Declare(Setting.Duration("SpillFsyncInterval", TimeSpan.FromSeconds(1),
        TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1), SpillLog, "The period of --spill-fsync interval"));

    public static readonly Setting<string> Nats = Declare(Setting.Text("Nats", "URLS", "", ScaleOut,
        "Scale out across nodes on NATS JetStream (docs/scale-out.md): the seed servers, comma-separated, such as " +
        "nats://10.0.0.1:4222,nats://10.0.0.2:4222 (tls:// for TLS); the client learns the rest of the cluster from them. " +
        "Without it the node stores into its database itself"));

    public static readonly Setting<NodeRole> Role = Declare(Setting.Choice("Role", NodeRole.All, ScaleOut,
        "With --nats: edge (the listeners and the spill log; batches published to the stream), writer (batches taken from the " +
        "stream into the database; --listen-http serves /metrics and /health only), or all (both in one process)"));

    public static readonly Setting<string> NatsStream = Declare(Setting.Text("NatsStream", "NAME", JetStreamOptions.DefaultStream, ScaleOut,
        "The stream the edges publish to and the writers take from; created when missing (work queue, discard new), an existing " +
        "one used as it is"));

    public static readonly Setting<string> NatsSubject = Declare(Setting.Text("NatsSubject", "SUBJECT", JetStreamOptions.DefaultSubject,
        ScaleOut, "The subject the edges publish to: the stream's subject"));

    public static readonly Setting<string> NatsConsumer = Declare(Setting.Text("NatsConsumer", "NAME", JetStreamOptions.DefaultConsumer,
        ScaleOut, "The durable pull consumer every writer shares (explicit acks)"));

    public static readonly Setting<long> NatsReplicas = Declare(Setting.Count("NatsReplicas", "N", 3, 1, 5, ScaleOut,
        "Servers that hold each message; a publish is acknowledged once a majority has it. 3 survives one server's loss"));

    public static readonly Setting<long> NatsStreamMaxBytes = Declare(Setting.ByteSize("NatsStreamMaxBytes", 1L << 30, 1L << 20,
        long.MaxValue, ScaleOut,
        "The stream's byte limit; a full stream refuses publishes and the edges' spill logs absorb, then push back. It must " +
        "fit each server's JetStream max_file_store"));

    public static readonly Setting<TimeSpan> NatsDuplicateWindow = Declare(Setting.Duration("NatsDuplicateWindow", TimeSpan.FromMinutes(2),
        TimeSpan.FromSeconds(1), TimeSpan.FromDays(1), ScaleOut,
        "How long the stream drops a republished batch as a duplicate of its id; past it the writers' ledger stores it once"));

    public static readonly Setting<TimeSpan> NatsAckWait = Declare(Setting.Duration("NatsAckWait", TimeSpan.FromSeconds(30),
        TimeSpan.FromSeconds(1), TimeSpan.FromHours(1), ScaleOut,
        "How long a batch handed to a writer that has died waits before another writer gets it (a live writer says it is " +
        "still storing every third of it)"));

    public static readonly Setting<long> NatsMaxAckPending = Declare(Setting.Count("NatsMaxAckPending", "COUNT", 64, 1, 1_000_000, ScaleOut,
        "Batches handed to writers and not yet stored, across every writer node"));

    public static readonly Setting<long> NatsMaxMessageBytes = Declare(Setting.ByteSize("NatsMaxMessageBytes", 0, 0, 64L << 20, ScaleOut,
        "The largest stream message; a larger batch is published in parts, each under an id of its own. 0 takes the " +
        "server's max_payload (1MiB by default)"));

    public static readonly Setting<string> NatsUser = Declare(Setting.Text("NatsUser", "NAME", "", ScaleOut,
        "The NATS user, with --nats-password"));

    public static readonly Setting<string> NatsPassword = Declare(Setting.Text("NatsPassword", "PASSWORD", "", ScaleOut,
        "The NATS user's password; give it in the environment or the config file, not as a flag that every user sees",
        secret: true));

    public static readonly Setting<string> NatsCreds = Declare(Setting.Text("NatsCreds", "PATH", "", ScaleOut,
        "A NATS credentials file (user JWT and NKey seed) instead of a user and password"));

    public static readonly Setting<string> NatsCa = Declare(Setting.Text("NatsCa", "PATH", "", ScaleOut,
        "The CA certificates (PEM) the NATS servers' certificates must chain to; TLS is then required"));

    public static readonly Setting<TimeSpan> StopReadTimeout = Declare(Setting.Duration("StopReadTimeout", new TcpSourceOptions().StopReadTimeout,
        TimeSpan.Zero, TimeSpan.FromHours(1), Operations,
        "On stop, how long connections whose senders are still sending are read before they are cut off"));

    public static readonly Setting<TimeSpan> UnhealthyAfter = Declare(Setting.Duration("UnhealthyAfter", TimeSpan.FromSeconds(30),
        TimeSpan.Zero, TimeSpan.FromDays(1), Operations,
        "GET /health answers 503 once a writer has failed to store for this long"));

    public static readonly Setting<LogFormat> LogFormat = Declare(Setting.Choice("LogFormat", Hosting.LogFormat.Text, Operations,
        "The log on stderr: a line per event (text), or a JSON object per line for a log shipper (json)"));

    /// <summary>Every setting, in the order declared above: the reference lists them in it within a section.</summary>
    public static IReadOnlyList<Setting> All => Declared;

    private static T Declare<T>(T setting)
        where T : Setting
    {
        Declared.Add(setting);
        return setting;
    }
}
