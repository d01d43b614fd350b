using System.Net;
using Microsoft.Extensions.Configuration;
using Spillway.Http;
using Spillway.JetStream;
using Spillway.Keys;
using Spillway.Pipeline;
using Spillway.Sinks.PostgreSql;
using Spillway.Sinks.Sqlite;
using Spillway.Spill;
using Spillway.Tcp;
using Spillway.Tls;
using Spillway.Udp;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Everything <c>spillway serve</c> is configured with, read by <see cref="SettingsReader"/> from three layers: an
/// optional JSON file (<c>--config</c>), <c>SPILLWAY__*</c> environment variables, and flags, each overriding the
/// one before. The settings themselves, their defaults and bounds, are declared in <see cref="SettingsTable"/>.
/// </summary>
internal sealed record ServeSettings
{
    public required IReadOnlyList<IPEndPoint> ListenTcp { get; init; }

    public required IReadOnlyList<IPEndPoint> ListenUdp { get; init; }

    public required IReadOnlyList<IPEndPoint> ListenHttp { get; init; }

    public required IReadOnlyList<IPEndPoint> ListenTls { get; init; }

    public required IReadOnlyList<IPEndPoint> ListenHttps { get; init; }

    /// <summary>Where <c>/metrics</c> and <c>/health</c> are served on their own; empty serves them beside <c>/ingest</c>.</summary>
    public IReadOnlyList<IPEndPoint> ListenAdmin { get; init; } = [];

    /// <summary>The TLS files and mutual-TLS rules, when <c>--tls-cert</c> is given.</summary>
    public TlsOptions? Tls { get; init; }

    /// <summary>The API keys file, when <c>--api-keys</c> is given.</summary>
    public ApiKeyOptions? ApiKeys { get; init; }

    /// <summary>Whether <c>/metrics</c> and <c>/health</c> need a key too.</summary>
    public bool ProtectAdmin { get; init; }

    public required FullPolicy HttpWhenFull { get; init; }

    public required long HttpMaxBodyBytes { get; init; }

    public required long HttpMaxBodyBytesInFlight { get; init; }

    public required int TcpMaxConnections { get; init; }

    public required TimeSpan TcpIdleTimeout { get; init; }

    public required FullPolicy TcpWhenFull { get; init; }

    public required FullPolicy UdpWhenFull { get; init; }

    public required int UdpReceiveBuffer { get; init; }

    public required SqliteSinkOptions Sqlite { get; init; }

    /// <summary>The PostgreSQL sink, when <c>--postgres</c> is given; SQLite otherwise.</summary>
    public PostgresSinkOptions? Postgres { get; init; }

    /// <summary>Writers draining the buffer in parallel, each with a sink (connection) of its own.</summary>
    public required int Writers { get; init; }

    public required IngestBufferOptions Buffer { get; init; }

    public required int MaxMessageBytes { get; init; }

    public required BatchWriterOptions Batch { get; init; }

    public required TimeSpan StopReadTimeout { get; init; }

    /// <summary>How long a writer may fail to store before <c>/health</c> answers 503.</summary>
    public required TimeSpan UnhealthyAfter { get; init; }

    public required LogFormat LogFormat { get; init; }

    /// <summary>The spill log, or null when <c>--spill-dir none</c> keeps accepted messages in memory only (or on a writer node).</summary>
    public SpillOptions? Spill { get; init; }

    /// <summary>The NATS servers, stream and consumer of a node that scales out, when <c>--nats</c> is given; null otherwise.</summary>
    public JetStreamOptions? JetStream { get; init; }

    /// <summary>What the node does on the stream; meaningful only with <see cref="JetStream"/>.</summary>
    public NodeRole Role { get; init; } = NodeRole.All;

    /// <summary>Whether the node listens for senders: always, but on a writer node.</summary>
    public bool Listens => JetStream is null || Role != NodeRole.Writer;

    /// <summary>Whether the node's writers publish to the stream (an edge, or both in one process) instead of storing.</summary>
    public bool Publishes => JetStream is not null && Role != NodeRole.Writer;

    /// <summary>Whether the node stores into a database: always, but on an edge.</summary>
    public bool Stores => JetStream is null || Role != NodeRole.Edge;

    /// <summary>The spill directory when none is given: beside the SQLite file, or in the working directory for PostgreSQL.</summary>
    public static string DefaultSpillDirectory(string? sqlitePath) => sqlitePath is null ? "spillway.spill" : sqlitePath + ".spill";

    public TcpSourceOptions Tcp => new()
    {
        Endpoints = ListenTcp, MaxMessageBytes = MaxMessageBytes, StopReadTimeout = StopReadTimeout, WhenFull = TcpWhenFull,
        MaxConnections = TcpMaxConnections, IdleTimeout = TcpIdleTimeout,
    };

    /// <summary>The TCP source's options for the TLS listeners.</summary>
    public TcpSourceOptions TlsTcp => Tcp with { Endpoints = ListenTls };

    public HttpSourceOptions Http => new()
    {
        Endpoints = ListenHttp, HttpsEndpoints = ListenHttps, AdminEndpoints = ListenAdmin, MaxMessageBytes = MaxMessageBytes, WhenFull = HttpWhenFull,
        MaxBodyBytes = HttpMaxBodyBytes, MaxBodyBytesInFlight = HttpMaxBodyBytesInFlight, ProtectAdmin = ProtectAdmin,
    };

    public UdpSourceOptions Udp => new()
    {
        Endpoints = ListenUdp, MaxMessageBytes = MaxMessageBytes, StopReadTimeout = StopReadTimeout, WhenFull = UdpWhenFull,
        ReceiveBufferBytes = UdpReceiveBuffer,
    };

    /// <summary>Reads and validates the settings, and throws if any is wrong.</summary>
    /// <param name="configuration">The file and environment layers.</param>
    /// <param name="flags">The flags given on the command line, by setting name; they win.</param>
    /// <exception cref="SettingsException">A value is malformed, out of range, or cannot work with another; the message names each.</exception>
    public static ServeSettings Load(IConfiguration configuration, IReadOnlyDictionary<string, IReadOnlyList<string>> flags)
    {
        var (settings, reader) = Read(configuration, flags);
        return reader.Problems.Count == 0 ? settings : throw new SettingsException(reader.Problems);
    }

    /// <summary>
    /// Reads and validates the settings, collecting every problem instead of stopping at the first: a setting whose value
    /// is refused takes its default in the settings returned, and the reader says which ones failed.
    /// </summary>
    public static (ServeSettings Settings, SettingsReader Reader) Read(
        IConfiguration configuration, IReadOnlyDictionary<string, IReadOnlyList<string>> flags)
    {
        var reader = new SettingsReader(configuration, flags);
        reader.CheckForUnknownKeys();

        var retention = reader.Get(SettingsTable.Retention);
        var indexes = reader.Get(SettingsTable.Indexes);
        var postgres = reader.Get(SettingsTable.Postgres) is { Length: > 0 } connectionString
            ? new PostgresSinkOptions
            {
                ConnectionString = connectionString, TablePrefix = reader.Get(SettingsTable.PostgresTablePrefix), Retention = retention,
                Indexes = indexes,
            }
            : null;
        if (postgres is not null)
        {
            try
            {
                postgres.Validate();
                PostgresHosting.Validate(postgres.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                reader.Problem(SettingsTable.Postgres,
                    $"invalid PostgreSQL settings ({SettingsTable.Postgres.Flag}, {SettingsTable.PostgresTablePrefix.Flag}): {ex.Message}");
            }
        }

        var (jetStream, role) = ReadJetStream(reader);
        var edge = jetStream is not null && role == NodeRole.Edge;
        var settings = new ServeSettings
        {
            Postgres = postgres,
            JetStream = jetStream,
            Role = role,
            Writers = (int)reader.Get(SettingsTable.Writers, postgres is null && !edge ? 1 : SettingsTable.DefaultPostgresWriters),
            ListenTcp = reader.GetList(SettingsTable.ListenTcp),
            ListenUdp = reader.GetList(SettingsTable.ListenUdp),
            ListenHttp = reader.GetList(SettingsTable.ListenHttp),
            ListenTls = reader.GetList(SettingsTable.ListenTls),
            ListenHttps = reader.GetList(SettingsTable.ListenHttps),
            ListenAdmin = reader.GetList(SettingsTable.ListenAdmin),
            HttpWhenFull = reader.Get(SettingsTable.HttpWhenFull),
            HttpMaxBodyBytes = reader.Get(SettingsTable.HttpMaxBodyBytes),
            HttpMaxBodyBytesInFlight = reader.Get(SettingsTable.HttpMaxBodyBytesInFlight),
            TcpMaxConnections = (int)reader.Get(SettingsTable.TcpMaxConnections),
            TcpIdleTimeout = reader.Get(SettingsTable.TcpIdleTimeout),
            TcpWhenFull = reader.Get(SettingsTable.TcpWhenFull),
            UdpWhenFull = reader.Get(SettingsTable.UdpWhenFull),
            UdpReceiveBuffer = (int)reader.Get(SettingsTable.UdpReceiveBuffer),
            Sqlite = new SqliteSinkOptions
            {
                Path = reader.Get(SettingsTable.Sqlite), Synchronous = reader.Get(SettingsTable.SqliteSynchronous),
                AllowDamaged = reader.Get(SettingsTable.SqliteAllowDamaged), Retention = retention, Indexes = indexes,
                MaxBytes = MaxDbBytes(reader, postgres is not null),
            },
            Buffer = new IngestBufferOptions(), // read below, once it is known whether the spill log is on
            MaxMessageBytes = (int)reader.Get(SettingsTable.MaxMessageBytes),
            Batch = new BatchWriterOptions { BatchSize = (int)reader.Get(SettingsTable.BatchSize), Linger = reader.Get(SettingsTable.BatchLinger) },
            StopReadTimeout = reader.Get(SettingsTable.StopReadTimeout),
            UnhealthyAfter = reader.Get(SettingsTable.UnhealthyAfter),
            LogFormat = reader.Get(SettingsTable.LogFormat),
        };
        if (postgres is null)
        {
            reader.Get(SettingsTable.PostgresTablePrefix); // shown as in force, though it takes effect only with --postgres
        }

        settings = settings with { Tls = ReadTls(reader, settings) };
        settings = ReadApiKeys(reader, settings);
        var spillDir = reader.Get(SettingsTable.SpillDir, DefaultSpillDirectory(postgres is null ? settings.Sqlite.Path : null));
        if (!settings.Listens)
        {
            // A writer node listens for no sender: what it writes is in the stream, and it serves /metrics and /health on the
            // HTTP listener's address (or --listen-admin's).
            settings = settings with
            {
                ListenTcp = [], ListenUdp = [], ListenTls = [], ListenHttps = [], ListenHttp = [],
                ListenAdmin = settings.ListenAdmin.Count > 0 ? settings.ListenAdmin : settings.ListenHttp,
            };
        }
        else if (!string.Equals(spillDir.Trim(), "none", StringComparison.OrdinalIgnoreCase))
        {
            var spill = new SpillOptions
            {
                Directory = spillDir,
                MaxBytes = reader.Get(SettingsTable.SpillMaxBytes),
                Fsync = reader.Get(SettingsTable.SpillFsync),
                FsyncInterval = reader.Get(SettingsTable.SpillFsyncInterval),
            };
            if (settings.MaxMessageBytes * 4L > spill.MaxBytes && !reader.Failed(SettingsTable.SpillMaxBytes, SettingsTable.MaxMessageBytes))
            {
                reader.Problem(
                    $"{SettingsTable.SpillMaxBytes.Describe()} ({spill.MaxBytes}) must hold at least four of the longest message " +
                    $"({SettingsTable.MaxMessageBytes.Flag} {settings.MaxMessageBytes})");
            }

            settings = settings with { Spill = spill };
        }

        settings = settings with
        {
            Buffer = new IngestBufferOptions
            {
                MaxMessages = (int)reader.Get(SettingsTable.MaxBufferMessages),
                MaxBytes = reader.Get(SettingsTable.MaxBufferBytes, settings.Spill is null ? IngestBufferOptions.DefaultMaxBytes : SpillOptions.DefaultMemoryBytes),
            },
        };

        Validate(settings, reader);
        return (settings, reader);
    }

    /// <summary>The NATS JetStream settings, with <c>--nats</c>; without it, <c>--role</c> is refused.</summary>
    private static (JetStreamOptions? Options, NodeRole Role) ReadJetStream(SettingsReader reader)
    {
        var servers = reader.Get(SettingsTable.Nats);
        var role = reader.Get(SettingsTable.Role);
        var user = reader.Get(SettingsTable.NatsUser);
        var password = reader.Get(SettingsTable.NatsPassword);
        var creds = reader.Get(SettingsTable.NatsCreds);
        var ca = reader.Get(SettingsTable.NatsCa);
        var options = new JetStreamOptions
        {
            Servers = [.. servers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
            Stream = reader.Get(SettingsTable.NatsStream),
            Subject = reader.Get(SettingsTable.NatsSubject),
            Consumer = reader.Get(SettingsTable.NatsConsumer),
            Replicas = (int)reader.Get(SettingsTable.NatsReplicas),
            MaxBytes = reader.Get(SettingsTable.NatsStreamMaxBytes),
            DuplicateWindow = reader.Get(SettingsTable.NatsDuplicateWindow),
            AckWait = reader.Get(SettingsTable.NatsAckWait),
            MaxAckPending = (int)reader.Get(SettingsTable.NatsMaxAckPending),
            MaxMessageBytes = (int)reader.Get(SettingsTable.NatsMaxMessageBytes),
            User = user.Length == 0 ? null : user,
            Password = password.Length == 0 ? null : password,
            CredsFile = creds.Length == 0 ? null : creds,
            CaFile = ca.Length == 0 ? null : ca,
        };
        if (servers.Length == 0)
        {
            if (reader.IsGiven(SettingsTable.Role))
            {
                reader.Problem(SettingsTable.Role,
                    $"{SettingsTable.Role.Describe()} is a node's part in a scale-out on NATS JetStream: give the servers with {SettingsTable.Nats.Flag}");
            }

            return (null, NodeRole.All);
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            reader.Problem(SettingsTable.Nats, $"invalid NATS JetStream settings ({SettingsTable.Nats.Flag} and the --nats-* settings): {ex.Message}");
        }

        return (options, role);
    }

    /// <summary>The API keys: they guard the HTTP listeners, and --protect-admin needs them.</summary>
    private static ServeSettings ReadApiKeys(SettingsReader reader, ServeSettings settings)
    {
        var path = reader.Get(SettingsTable.ApiKeys);
        var protectAdmin = reader.Get(SettingsTable.ProtectAdmin);
        if (path.Length == 0)
        {
            if (protectAdmin)
            {
                reader.Problem(SettingsTable.ProtectAdmin,
                    $"{SettingsTable.ProtectAdmin.Flag} makes /metrics and /health ask for an API key: give the keys with {SettingsTable.ApiKeys.Flag}");
            }

            return settings;
        }

        return settings with { ApiKeys = new ApiKeyOptions { Path = path }, ProtectAdmin = protectAdmin };
    }

    /// <summary>The TLS settings: the certificate and key go together, and the TLS listeners need them.</summary>
    private static TlsOptions? ReadTls(SettingsReader reader, ServeSettings settings)
    {
        var certificate = reader.Get(SettingsTable.TlsCert);
        var key = reader.Get(SettingsTable.TlsKey);
        var clientCa = reader.Get(SettingsTable.TlsClientCa);
        var allowedPeers = reader.GetList(SettingsTable.TlsAllowedPeer);
        var tlsListeners = settings.ListenTls.Concat(settings.ListenHttps).ToList();
        if (certificate.Length == 0 || key.Length == 0)
        {
            if (certificate.Length > 0 || key.Length > 0)
            {
                reader.Problem(certificate.Length == 0 ? SettingsTable.TlsKey : SettingsTable.TlsCert,
                    $"{SettingsTable.TlsCert.Flag} and {SettingsTable.TlsKey.Flag} go together: give both, the certificate and its key");
            }
            else if (tlsListeners.Count > 0 && !reader.Failed(SettingsTable.ListenTls, SettingsTable.ListenHttps))
            {
                reader.Problem($"the TLS listeners ({string.Join(", ", tlsListeners)}) need a certificate: give {SettingsTable.TlsCert.Flag} " +
                    $"and {SettingsTable.TlsKey.Flag} (docs/operations.md, \"TLS\", makes a test CA with openssl)");
            }

            return null;
        }

        if (allowedPeers.Count > 0 && clientCa.Length == 0)
        {
            reader.Problem(SettingsTable.TlsAllowedPeer,
                $"{SettingsTable.TlsAllowedPeer.Describe()} narrows mutual TLS, which {SettingsTable.TlsClientCa.Flag} turns on: give the CA " +
                "that the allowed peers' certificates chain to");
        }

        return new TlsOptions
        {
            CertificatePath = certificate, KeyPath = key, ClientCaPath = clientCa.Length == 0 ? null : clientCa, AllowedPeers = allowedPeers,
        };
    }

    /// <summary>--max-db-bytes: 0, or a bound the SQLite file can keep to; PostgreSQL takes none.</summary>
    private static long MaxDbBytes(SettingsReader reader, bool postgres)
    {
        var bytes = reader.Get(SettingsTable.MaxDbBytes);
        if (bytes == 0)
        {
            return 0;
        }

        if (postgres)
        {
            reader.Problem(SettingsTable.MaxDbBytes,
                $"{SettingsTable.MaxDbBytes.Describe()} bounds the SQLite file only; with {SettingsTable.Postgres.Flag} use --retention " +
                "(PostgreSQL's size is the database administrator's to bound)");
            return 0;
        }

        if (bytes < SqliteSinkOptions.MinMaxBytes)
        {
            reader.Problem(SettingsTable.MaxDbBytes,
                $"{SettingsTable.MaxDbBytes.Describe()} must be 0 or at least {ValueParsers.FormatByteSize(SqliteSinkOptions.MinMaxBytes)}, " +
                $"not {ValueParsers.FormatByteSize(bytes)}: below it the schema and a batch do not fit");
            return 0;
        }

        return bytes;
    }

    /// <summary>The checks of settings that cannot work together, each made only when the values it compares were accepted.</summary>
    private static void Validate(ServeSettings settings, SettingsReader reader)
    {
        if (settings.Listens && settings.ListenTcp.Count == 0 && settings.ListenUdp.Count == 0 && settings.ListenHttp.Count == 0
            && settings.ListenTls.Count == 0 && settings.ListenHttps.Count == 0)
        {
            reader.Problem(
                $"nothing to listen on: {SettingsTable.ListenTcp.Flag}, {SettingsTable.ListenUdp.Flag} and {SettingsTable.ListenHttp.Flag} are all " +
                $"'none', and no {SettingsTable.ListenTls.Flag} or {SettingsTable.ListenHttps.Flag} is given");
        }

        if (settings.Stores && settings.Postgres is null && settings.Writers > 1 && !reader.Failed(SettingsTable.Postgres))
        {
            reader.Problem(
                $"{SettingsTable.Writers.Describe()} is {settings.Writers}, but SQLite takes one writer at a time: use 1, or {SettingsTable.Postgres.Flag}");
        }

        if (settings.MaxMessageBytes > settings.Buffer.MaxBytes && !reader.Failed(SettingsTable.MaxMessageBytes, SettingsTable.MaxBufferBytes))
        {
            reader.Problem(
                $"{SettingsTable.MaxMessageBytes.Describe()} ({settings.MaxMessageBytes}) must not exceed " +
                $"{SettingsTable.MaxBufferBytes.Describe()} ({settings.Buffer.MaxBytes}): one message must fit in the buffer");
        }

        if (settings.HttpMaxBodyBytesInFlight < settings.HttpMaxBodyBytes
            && !reader.Failed(SettingsTable.HttpMaxBodyBytesInFlight, SettingsTable.HttpMaxBodyBytes))
        {
            reader.Problem(
                $"{SettingsTable.HttpMaxBodyBytesInFlight.Describe()} ({settings.HttpMaxBodyBytesInFlight}) must hold at least one body of " +
                $"{SettingsTable.HttpMaxBodyBytes.Flag} ({settings.HttpMaxBodyBytes})");
        }

        if (settings.Batch.BatchSize > settings.Buffer.MaxMessages && !reader.Failed(SettingsTable.BatchSize, SettingsTable.MaxBufferMessages))
        {
            reader.Problem(
                $"{SettingsTable.BatchSize.Describe()} ({settings.Batch.BatchSize}) must not exceed " +
                $"{SettingsTable.MaxBufferMessages.Describe()} ({settings.Buffer.MaxMessages}): a batch is taken from the buffer");
        }
    }
}

/// <summary>How <c>serve</c> writes its log to stderr.</summary>
internal enum LogFormat
{
    /// <summary>One line per event, for people.</summary>
    Text,

    /// <summary>One JSON object per line, for log shippers.</summary>
    Json,
}
