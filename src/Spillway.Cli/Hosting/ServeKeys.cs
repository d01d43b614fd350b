namespace Spillway.Cli.Hosting;

/// <summary>A setting of <c>spillway serve</c>: its flag and its configuration key.</summary>
internal sealed record ServeKey(string Flag, string ConfigKey)
{
    /// <summary>How errors name the setting, so the operator finds it whichever layer it came from.</summary>
    public string Describe() => $"{Flag} (config key {ConfigKey}, environment SPILLWAY__{ConfigKey.ToUpperInvariant()})";
}

/// <summary>Every setting of <c>spillway serve</c>.</summary>
internal static class ServeKeys
{
    public static readonly ServeKey ListenTcp = new("--listen-tcp", "ListenTcp");
    public static readonly ServeKey ListenUdp = new("--listen-udp", "ListenUdp");
    public static readonly ServeKey ListenHttp = new("--listen-http", "ListenHttp");
    public static readonly ServeKey HttpWhenFull = new("--http-when-full", "HttpWhenFull");
    public static readonly ServeKey HttpMaxBodyBytes = new("--http-max-body-bytes", "HttpMaxBodyBytes");
    public static readonly ServeKey TcpWhenFull = new("--tcp-when-full", "TcpWhenFull");
    public static readonly ServeKey UdpWhenFull = new("--udp-when-full", "UdpWhenFull");
    public static readonly ServeKey UdpReceiveBuffer = new("--udp-receive-buffer", "UdpReceiveBuffer");
    public static readonly ServeKey Sqlite = new("--sqlite", "Sqlite");
    public static readonly ServeKey Postgres = new("--postgres", "Postgres");
    public static readonly ServeKey PostgresTablePrefix = new("--postgres-table-prefix", "PostgresTablePrefix");
    public static readonly ServeKey Writers = new("--writers", "Writers");
    public static readonly ServeKey SqliteSynchronous = new("--sqlite-synchronous", "SqliteSynchronous");
    public static readonly ServeKey MaxBufferMessages = new("--max-buffer-messages", "MaxBufferMessages");
    public static readonly ServeKey MaxBufferBytes = new("--max-buffer-bytes", "MaxBufferBytes");
    public static readonly ServeKey MaxMessageBytes = new("--max-message-bytes", "MaxMessageBytes");
    public static readonly ServeKey BatchSize = new("--batch-size", "BatchSize");
    public static readonly ServeKey BatchLinger = new("--batch-linger", "BatchLinger");
    public static readonly ServeKey StopReadTimeout = new("--stop-read-timeout", "StopReadTimeout");
    public static readonly ServeKey UnhealthyAfter = new("--unhealthy-after", "UnhealthyAfter");
    public static readonly ServeKey LogFormat = new("--log-format", "LogFormat");
    public static readonly ServeKey SpillDir = new("--spill-dir", "SpillDir");
    public static readonly ServeKey SpillMaxBytes = new("--spill-max-bytes", "SpillMaxBytes");
    public static readonly ServeKey SpillFsync = new("--spill-fsync", "SpillFsync");
    public static readonly ServeKey SpillFsyncInterval = new("--spill-fsync-interval", "SpillFsyncInterval");

    /// <summary>Every setting, in the order declared above.</summary>
    public static IReadOnlyList<ServeKey> All { get; } =
    [
        ListenTcp, ListenUdp, ListenHttp, HttpWhenFull, HttpMaxBodyBytes, TcpWhenFull, UdpWhenFull, UdpReceiveBuffer, Sqlite, Postgres,
        PostgresTablePrefix, Writers, SqliteSynchronous, MaxBufferMessages, MaxBufferBytes, MaxMessageBytes, BatchSize, BatchLinger,
        StopReadTimeout, UnhealthyAfter, LogFormat, SpillDir, SpillMaxBytes, SpillFsync, SpillFsyncInterval,
    ];
}
