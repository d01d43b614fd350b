using System.Net;
using Microsoft.Extensions.Configuration;
using Spillway.Http;
using Spillway.Pipeline;
using Spillway.Sinks.PostgreSql;
using Spillway.Sinks.Sqlite;
using Spillway.Spill;
using Spillway.Tcp;
using Spillway.Udp;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Everything <c>spillway serve</c> is configured with, read from three layers: an optional JSON file
/// (<c>--config</c>), <c>SPILLWAY__*</c> environment variables, and flags, each overriding the one before.
/// Every flag has a configuration key of the same name in PascalCase: <c>--max-buffer-messages</c> is
/// <c>MaxBufferMessages</c> in the file and <c>SPILLWAY__MAXBUFFERMESSAGES</c> in the environment.
/// </summary>
internal sealed record ServeSettings
{
    /// <summary>The default of <c>--writers</c> with PostgreSQL, chosen by measurement (see docs in the README).</summary>
    public const int DefaultPostgresWriters = 2;

    /// <summary>The section of the config file that sets log levels, read by the logging library, not by serve.</summary>
    public const string LoggingSection = "Logging";

    /// <summary>The default of <c>--unhealthy-after</c>.</summary>
    public static readonly TimeSpan DefaultUnhealthyAfter = TimeSpan.FromSeconds(30);

    public required IReadOnlyList<IPEndPoint> ListenTcp { get; init; }

    public required IReadOnlyList<IPEndPoint> ListenUdp { get; init; }

    public required IReadOnlyList<IPEndPoint> ListenHttp { get; init; }

    public required FullPolicy HttpWhenFull { get; init; }

    public required long HttpMaxBodyBytes { get; init; }

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

    /// <summary>The spill log, or null when <c>--spill-dir none</c> keeps accepted messages in memory only.</summary>
    public SpillOptions? Spill { get; init; }

    /// <summary>The spill directory when none is given: beside the SQLite file, or in the working directory for PostgreSQL.</summary>
    public static string DefaultSpillDirectory(string? sqlitePath) => sqlitePath is null ? "spillway.spill" : sqlitePath + ".spill";

    public TcpSourceOptions Tcp => new()
    {
        Endpoints = ListenTcp, MaxMessageBytes = MaxMessageBytes, StopReadTimeout = StopReadTimeout, WhenFull = TcpWhenFull,
    };

    public HttpSourceOptions Http => new()
    {
        Endpoints = ListenHttp, MaxMessageBytes = MaxMessageBytes, WhenFull = HttpWhenFull, MaxBodyBytes = HttpMaxBodyBytes,
    };

    public UdpSourceOptions Udp => new()
    {
        Endpoints = ListenUdp, MaxMessageBytes = MaxMessageBytes, StopReadTimeout = StopReadTimeout, WhenFull = UdpWhenFull,
        ReceiveBufferBytes = UdpReceiveBuffer,
    };

    /// <summary>Reads and validates the settings.</summary>
    /// <param name="configuration">The file and environment layers.</param>
    /// <param name="flags">The flags given on the command line, by configuration key; they win.</param>
    /// <exception cref="SettingsException">A value is malformed or out of range; the message names it.</exception>
    public static ServeSettings Load(IConfiguration configuration, IReadOnlyDictionary<string, IReadOnlyList<string>> flags)
    {
        // A misspelt key would otherwise be ignored, and the setting silently left at its default.
        var known = ServeKeys.All.Select(k => k.ConfigKey).Append(LoggingSection).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var unknown = configuration.GetChildren().Select(c => c.Key).Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new SettingsException(
                $"unknown setting {string.Join(", ", unknown.Select(k => $"'{k}'"))} in the config file or a SPILLWAY__ environment variable: " +
                "the keys are the flags in PascalCase, such as MaxBufferMessages (see docs/operations.md)");
        }

        var reader = new Reader(configuration, flags);
        var defaults = new BatchWriterOptions();
        var tcpDefaults = new TcpSourceOptions();
        var postgres = reader.Text(ServeKeys.Postgres, "") is { Length: > 0 } connectionString
            ? new PostgresSinkOptions { ConnectionString = connectionString, TablePrefix = reader.Text(ServeKeys.PostgresTablePrefix, "") }
            : null;
        if (postgres is not null)
        {
            try
            {
                postgres.Validate();
                _ = new Npgsql.NpgsqlConnectionStringBuilder(postgres.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                throw new SettingsException($"invalid PostgreSQL settings ({ServeKeys.Postgres.Flag}, {ServeKeys.PostgresTablePrefix.Flag}): {ex.Message}");
            }
        }

        var settings = new ServeSettings
        {
            Postgres = postgres,
            Writers = (int)reader.Count(ServeKeys.Writers, postgres is null ? 1 : DefaultPostgresWriters, 1, 64),
            ListenTcp = reader.Endpoints(ServeKeys.ListenTcp, [TcpSourceOptions.DefaultEndpoint]),
            ListenUdp = reader.Endpoints(ServeKeys.ListenUdp, [UdpSourceOptions.DefaultEndpoint]),
            ListenHttp = reader.Endpoints(ServeKeys.ListenHttp, [HttpSourceOptions.DefaultEndpoint]),
            HttpWhenFull = reader.Enum(ServeKeys.HttpWhenFull, FullPolicy.Drop),
            HttpMaxBodyBytes = reader.ByteSize(ServeKeys.HttpMaxBodyBytes, HttpSourceOptions.DefaultMaxBodyBytes, 1, 1L << 30),
            TcpWhenFull = reader.Enum(ServeKeys.TcpWhenFull, FullPolicy.Wait),
            UdpWhenFull = reader.Enum(ServeKeys.UdpWhenFull, FullPolicy.Drop),
            UdpReceiveBuffer = (int)reader.ByteSize(ServeKeys.UdpReceiveBuffer, UdpSourceOptions.DefaultReceiveBufferBytes, 1024, int.MaxValue),
            Sqlite = new SqliteSinkOptions
            {
                Path = reader.Text(ServeKeys.Sqlite, SqliteSinkOptions.DefaultPath),
                Synchronous = reader.Enum(ServeKeys.SqliteSynchronous, SqliteSynchronous.Normal),
            },
            Buffer = new IngestBufferOptions
            {
                MaxMessages = (int)reader.Count(ServeKeys.MaxBufferMessages, IngestBufferOptions.DefaultMaxMessages, 1, int.MaxValue),
                MaxBytes = reader.ByteSize(ServeKeys.MaxBufferBytes, IngestBufferOptions.DefaultMaxBytes, 1, long.MaxValue),
            },
            MaxMessageBytes = (int)reader.ByteSize(ServeKeys.MaxMessageBytes, TcpSourceOptions.DefaultMaxMessageBytes, 1, 64L << 20),
            Batch = defaults with
            {
                BatchSize = (int)reader.Count(ServeKeys.BatchSize, BatchWriterOptions.DefaultBatchSize, 1, 1_000_000),
                Linger = reader.Duration(ServeKeys.BatchLinger, BatchWriterOptions.DefaultLinger, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
            },
            StopReadTimeout = reader.Duration(ServeKeys.StopReadTimeout, tcpDefaults.StopReadTimeout, TimeSpan.Zero, TimeSpan.FromHours(1)),
            UnhealthyAfter = reader.Duration(ServeKeys.UnhealthyAfter, DefaultUnhealthyAfter, TimeSpan.Zero, TimeSpan.FromDays(1)),
            LogFormat = reader.Enum(ServeKeys.LogFormat, LogFormat.Text),
        };

        var spillDir = reader.Text(ServeKeys.SpillDir, DefaultSpillDirectory(postgres is null ? settings.Sqlite.Path : null));
        if (!string.Equals(spillDir.Trim(), "none", StringComparison.OrdinalIgnoreCase))
        {
            var spill = new SpillOptions
            {
                Directory = spillDir,
                MaxBytes = reader.ByteSize(ServeKeys.SpillMaxBytes, SpillOptions.DefaultMaxBytes, 1L << 20, long.MaxValue),
                Fsync = reader.Enum(ServeKeys.SpillFsync, SpillFsync.Batch),
                FsyncInterval = reader.Duration(ServeKeys.SpillFsyncInterval, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1)),
            };
            if (settings.MaxMessageBytes * 4L > spill.MaxBytes)
            {
                throw new SettingsException(
                    $"{ServeKeys.SpillMaxBytes.Describe()} ({spill.MaxBytes}) must hold at least four of the longest message " +
                    $"({ServeKeys.MaxMessageBytes.Flag} {settings.MaxMessageBytes})");
            }

            settings = settings with { Spill = spill };
        }

        if (settings.ListenTcp.Count == 0 && settings.ListenUdp.Count == 0 && settings.ListenHttp.Count == 0)
        {
            throw new SettingsException(
                $"nothing to listen on: {ServeKeys.ListenTcp.Flag}, {ServeKeys.ListenUdp.Flag} and {ServeKeys.ListenHttp.Flag} are all 'none'");
        }

        if (settings.Postgres is null && settings.Writers > 1)
        {
            throw new SettingsException(
                $"{ServeKeys.Writers.Describe()} is {settings.Writers}, but SQLite takes one writer at a time: use 1, or {ServeKeys.Postgres.Flag}");
        }

        if (settings.MaxMessageBytes > settings.Buffer.MaxBytes)
        {
            throw new SettingsException(
                $"{ServeKeys.MaxMessageBytes.Describe()} ({settings.MaxMessageBytes}) must not exceed " +
                $"{ServeKeys.MaxBufferBytes.Describe()} ({settings.Buffer.MaxBytes}): one message must fit in the buffer");
        }

        if (settings.Batch.BatchSize > settings.Buffer.MaxMessages)
        {
            throw new SettingsException(
                $"{ServeKeys.BatchSize.Describe()} ({settings.Batch.BatchSize}) must not exceed " +
                $"{ServeKeys.MaxBufferMessages.Describe()} ({settings.Buffer.MaxMessages}): a batch is taken from the buffer");
        }

        return settings;
    }

    private sealed class Reader(IConfiguration configuration, IReadOnlyDictionary<string, IReadOnlyList<string>> flags)
    {
        public string Text(ServeKey key, string fallback)
        {
            var value = Raw(key);
            if (value is null)
            {
                return fallback;
            }

            return string.IsNullOrWhiteSpace(value) ? throw Invalid(key, value, "a non-empty value") : value;
        }

        public long Count(ServeKey key, long fallback, long min, long max) =>
            Parse(key, fallback, "a whole number", ValueParsers.TryParseCount, min, max);

        public long ByteSize(ServeKey key, long fallback, long min, long max) =>
            Parse(key, fallback, "a size in bytes such as 65536, 64KiB or 64MiB", ValueParsers.TryParseByteSize, min, max);

        public TimeSpan Duration(ServeKey key, TimeSpan fallback, TimeSpan min, TimeSpan max) =>
            Parse(key, fallback, "a duration with a unit such as 250ms or 2s", ValueParsers.TryParseDuration, min, max);

        public T Enum<T>(ServeKey key, T fallback)
            where T : struct, Enum
        {
            var value = Raw(key);
            if (value is null)
            {
                return fallback;
            }

            return System.Enum.TryParse<T>(value, ignoreCase: true, out var parsed) && System.Enum.IsDefined(parsed) && !char.IsAsciiDigit(value.TrimStart().FirstOrDefault())
                ? parsed
                : throw Invalid(key, value, "one of " + string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant())));
        }

        public IReadOnlyList<IPEndPoint> Endpoints(ServeKey key, IReadOnlyList<IPEndPoint> fallback)
        {
            var values = flags.TryGetValue(key.ConfigKey, out var given)
                ? given
                : ListFromConfiguration(key);
            if (values.Count == 0)
            {
                return fallback;
            }

            if (values is [var only] && string.Equals(only.Trim(), "none", StringComparison.OrdinalIgnoreCase))
            {
                return []; // the listener is off
            }

            var endpoints = new List<IPEndPoint>(values.Count);
            foreach (var value in values)
            {
                endpoints.Add(ValueParsers.TryParseEndpoint(value, out var endpoint)
                    ? endpoint
                    : throw Invalid(key, value, "HOST:PORT, such as 127.0.0.1:5514, [::1]:5514 or *:5514, or none"));
            }

            return endpoints;
        }

        private string[] ListFromConfiguration(ServeKey key)
        {
            var section = configuration.GetSection(key.ConfigKey);
            if (section.Value is { } single)
            {
                // A plain string ("127.0.0.1:5514" or "a:1,b:2") where a list was expected.
                return single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }

            return [.. section.GetChildren().Select(c => c.Value).OfType<string>()];
        }

        private T Parse<T>(ServeKey key, T fallback, string expected, TryParse<T> tryParse, T min, T max)
            where T : IComparable<T>
        {
            var value = Raw(key);
            if (value is null)
            {
                return fallback;
            }

            if (!tryParse(value, out var parsed))
            {
                throw Invalid(key, value, expected);
            }

            if (parsed.CompareTo(min) < 0 || parsed.CompareTo(max) > 0)
            {
                throw Invalid(key, value, $"a value from {min} to {max}");
            }

            return parsed;
        }

        private string? Raw(ServeKey key) =>
            flags.TryGetValue(key.ConfigKey, out var given) && given.Count > 0 ? given[^1] : configuration[key.ConfigKey];

        private static SettingsException Invalid(ServeKey key, string value, string expected) =>
            new($"invalid value '{value}' for {key.Describe()}: expected {expected}");
    }

    private delegate bool TryParse<T>(string text, out T value);
}

/// <summary>How <c>serve</c> writes its log to stderr.</summary>
internal enum LogFormat
{
    /// <summary>One line per event, for people.</summary>
    Text,

    /// <summary>One JSON object per line, for log shippers.</summary>
    Json,
}
