using System.Net;
using System.Net.Sockets;
using Spillway.Checks;
using Spillway.Sinks;
using Spillway.Sinks.Sqlite;
using Spillway.Spill;
using Spillway.Keys;
using Spillway.Tls;

namespace Spillway.Cli.Hosting;

/// <summary>
/// The checks of the machine that <c>check-config</c> makes and <c>serve</c> makes at start, after the settings have
/// been read: every address can be listened on now, the database is reachable with the rights the sink needs, the
/// spill directory is writable, free and has room. Nothing is created or changed. A check is skipped when the
/// setting it depends on was refused: that setting's own problem says enough.
/// </summary>
internal static class StartupChecks
{
    public static async Task<CheckReport> RunAsync(ServeSettings settings, SettingsReader reader, FileInfo? configFile, CancellationToken cancellationToken)
    {
        var report = new CheckReport();
        CheckListeners(settings, reader, report);
        CheckTls(settings, reader, report);
        CheckApiKeys(settings, reader, report);
        if (settings.JetStream is { } jetStream && !reader.Failed(SettingsTable.Nats))
        {
            report.Add(await JetStreamHosting.CheckAsync(jetStream, cancellationToken));
        }

        // An edge stores nothing itself: its database settings are not in use.
        if (settings.Stores && !reader.Failed(SettingsTable.Sqlite, SettingsTable.Postgres, SettingsTable.PostgresTablePrefix))
        {
            if (settings.Postgres is { } postgres)
            {
                report.Add(await PostgresHosting.CheckAsync(postgres, cancellationToken));
            }
            else
            {
                report.Add(SqliteCheck.Check(settings.Sqlite));
            }
        }

        if (!reader.Failed(SettingsTable.Retention))
        {
            var retention = settings.Postgres?.Retention ?? settings.Sqlite.Retention;
            report.Fact("retention: " + new Retention(retention, TimeProvider.System).Description
                + (settings.Postgres is null && settings.Sqlite.MaxBytes > 0
                    ? $"; past {ValueParsers.FormatByteSize(settings.Sqlite.MaxBytes)} (--max-db-bytes) the oldest rows are deleted" : ""));
            var indexes = settings.Postgres?.Indexes ?? settings.Sqlite.Indexes;
            report.Fact("indexes on messages: " + MessageIndex.Format(MessageIndex.InForce(indexes, retention > TimeSpan.Zero)));
        }

        if (settings.Spill is { } spill && !reader.Failed(SettingsTable.SpillDir, SettingsTable.SpillMaxBytes))
        {
            report.Add(SpillCheck.Check(spill));
        }

        var postgresFromFile = reader.Resolved.Any(r => r.Setting == SettingsTable.Postgres && r.Origin == SettingOrigin.File);
        if (configFile is not null && postgresFromFile && !OperatingSystem.IsWindows()
            && settings.Postgres is { } database && PostgresHosting.HoldsPassword(database.ConnectionString)
            && (File.GetUnixFileMode(configFile.FullName) & UnixFileMode.OtherRead) != 0)
        {
            report.Warning($"the config file '{configFile.FullName}' holds a database password and every user of this machine can read it: " +
                "chmod o-r it (the package installs it 0640, group spillway)");
        }

        return report;
    }

    private static void CheckListeners(ServeSettings settings, SettingsReader reader, CheckReport report)
    {
        var streams = new HashSet<IPEndPoint>();
        foreach (var (setting, endpoints, type, name) in new[]
        {
            (SettingsTable.ListenTcp, settings.ListenTcp, SocketType.Stream, "tcp"),
            (SettingsTable.ListenHttp, settings.ListenHttp, SocketType.Stream, "http"),
            (SettingsTable.ListenTls, settings.ListenTls, SocketType.Stream, "tls"),
            (SettingsTable.ListenHttps, settings.ListenHttps, SocketType.Stream, "https"),
            (SettingsTable.ListenAdmin, settings.ListenAdmin, SocketType.Stream, "admin"),
            (SettingsTable.ListenUdp, settings.ListenUdp, SocketType.Dgram, "udp"),
        })
        {
            if (reader.Failed(setting))
            {
                continue;
            }

            foreach (var endpoint in endpoints)
            {
                // TCP and HTTP share the port space of TCP; the same address twice would fail the second bind at start.
                if (endpoint.Port != 0 && type == SocketType.Stream && !streams.Add(endpoint))
                {
                    report.Problem($"{name} {endpoint} is given twice (in {SettingsTable.ListenTcp.Flag}, {SettingsTable.ListenHttp.Flag}, " +
                        $"{SettingsTable.ListenTls.Flag}, {SettingsTable.ListenHttps.Flag} or {SettingsTable.ListenAdmin.Flag}): one TCP port takes one listener");
                    continue;
                }

                if (CannotBind(endpoint, type) is { } reason)
                {
                    report.Problem($"cannot listen on {name} {endpoint} ({setting.Flag}): {reason}");
                }
            }
        }

        if (report.Problems.Count == 0)
        {
            var count = settings.ListenTcp.Count + settings.ListenUdp.Count + settings.ListenHttp.Count + settings.ListenTls.Count
                + settings.ListenHttps.Count + settings.ListenAdmin.Count;
            report.Fact($"listeners: {count} addresses free to listen on");
        }

        if (!reader.Failed(SettingsTable.ListenAdmin) && !settings.ProtectAdmin && settings.ListenAdmin.Any(e => !IPAddress.IsLoopback(e.Address)))
        {
            report.Warning($"{SettingsTable.ListenAdmin.Flag} beyond loopback serves /metrics and /health to anyone who can reach it: " +
                $"keep it on 127.0.0.1, or add {SettingsTable.ProtectAdmin.Flag} with {SettingsTable.ApiKeys.Flag}");
        }
    }

    /// <summary>The TLS files load as they will at start, and the key is the service's alone.</summary>
    private static void CheckTls(ServeSettings settings, SettingsReader reader, CheckReport report)
    {
        if (settings.Tls is not { } tls || reader.Failed(SettingsTable.TlsCert, SettingsTable.TlsKey, SettingsTable.TlsClientCa, SettingsTable.TlsAllowedPeer))
        {
            return;
        }

        try
        {
            report.Fact("tls: " + TlsCredentials.Load(tls, TimeProvider.System.GetUtcNow()).Describe()
                + (tls.AllowedPeers.Count > 0 ? $"; only {string.Join(", ", tls.AllowedPeers)} may send" : ""));
        }
        catch (TlsCredentialsException ex)
        {
            report.Problem("tls: " + ex.Message);
            return;
        }

        if (!OperatingSystem.IsWindows() && File.Exists(tls.KeyPath)
            && (File.GetUnixFileMode(tls.KeyPath) & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
        {
            report.Warning($"the TLS key '{tls.KeyPath}' can be read by every user of this machine: chmod o-rw it (0600, or 0640 with the group spillway)");
        }

        if (settings.ListenTls.Count == 0 && settings.ListenHttps.Count == 0)
        {
            report.Warning($"{SettingsTable.TlsCert.Flag} is given but nothing uses it: add {SettingsTable.ListenTls.Flag} or {SettingsTable.ListenHttps.Flag}");
        }
    }

    /// <summary>The keys file loads as it will at start, and something uses it.</summary>
    private static void CheckApiKeys(ServeSettings settings, SettingsReader reader, CheckReport report)
    {
        if (settings.ApiKeys is not { } keys || reader.Failed(SettingsTable.ApiKeys, SettingsTable.ProtectAdmin))
        {
            return;
        }

        try
        {
            var loaded = ApiKeyFile.Read(keys.Path);
            var limited = loaded.Count(k => k.Limit is not null);
            report.Fact($"api keys: {loaded.Count} in '{keys.Path}' ({limited} with a rate limit); POST /ingest" +
                (settings.ProtectAdmin ? ", /metrics and /health need one" : " needs one"));
            if (loaded.Count == 0)
            {
                report.Warning($"the API keys file '{keys.Path}' has no key: every POST /ingest will be answered 401 until one is added");
            }
        }
        catch (ApiKeyFileException ex)
        {
            report.Problem("api keys: " + ex.Message);
            return;
        }

        if (settings.ListenHttp.Count == 0 && settings.ListenHttps.Count == 0)
        {
            report.Warning($"{SettingsTable.ApiKeys.Flag} is given but no HTTP listener uses it: add {SettingsTable.ListenHttp.Flag} or {SettingsTable.ListenHttps.Flag}");
        }
        else if (settings.ListenHttps.Count == 0 && settings.ListenHttp.Any(e => !IPAddress.IsLoopback(e.Address)))
        {
            report.Warning($"API keys travel in clear on {SettingsTable.ListenHttp.Flag} beyond loopback: anyone on the path can read and " +
                $"reuse them. Serve HTTPS with {SettingsTable.ListenHttps.Flag} and turn plain HTTP off (--listen-http none)");
        }
    }

    /// <summary>Binds a socket as the source will, and closes it at once; null when that worked.</summary>
    private static string? CannotBind(IPEndPoint endpoint, SocketType type)
    {
        try
        {
            using var socket = new Socket(endpoint.AddressFamily, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
            socket.Bind(endpoint);
            return null;
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => "the address is in use (by another program, or another spillway serve)",
                SocketError.AccessDenied => "permission denied (a port below 1024 needs CAP_NET_BIND_SERVICE: see deploy/spillway.service)",
                SocketError.AddressNotAvailable => "no interface of this machine has that address",
                _ => ex.Message,
            };
        }
    }
}
