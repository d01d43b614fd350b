using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Npgsql;
using Spillway.Cli.Hosting;
using Spillway.Sinks;
using Spillway.Sinks.PostgreSql;
using Spillway.Sinks.Sqlite;

namespace Spillway.Cli.Commands;

/// <summary>How <c>query</c> and <c>tail</c> print a message.</summary>
internal enum RowFormat
{
    /// <summary>The syslog shape: time, host, app[pid], severity, message; coloured by severity on a terminal.</summary>
    Text,

    /// <summary>One JSON object a line, the columns by name.</summary>
    Json,

    /// <summary>RFC 4180, with a header line.</summary>
    Csv,
}

/// <summary>
/// <c>spillway query</c> (the newest stored messages that match, oldest first) and <c>spillway tail</c> (the same, then
/// each new one as it is stored, until Ctrl+C), against the SQLite file or the PostgreSQL tables <c>serve</c> writes,
/// read beside a running <c>serve</c>.
/// </summary>
internal static class QueryCommand
{
    private static readonly string[] SeverityNames = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

    public static Command CreateQuery() => Create(tail: false);

    public static Command CreateTail() => Create(tail: true);

    private static Command Create(bool tail)
    {
        var sqlite = new Option<string>("--sqlite")
        {
            Description = "The SQLite database to read", HelpName = "PATH", DefaultValueFactory = _ => "spillway.db",
        };
        var postgres = new Option<string?>("--postgres") { Description = "Read PostgreSQL instead: an Npgsql connection string", HelpName = "CONNECTION" };
        var prefix = new Option<string>("--postgres-table-prefix")
        {
            Description = "The prefix serve's --postgres-table-prefix gave the tables", HelpName = "PREFIX", DefaultValueFactory = _ => "",
        };
        var app = new Option<string?>("--app") { Description = "Only this APP-NAME", HelpName = "NAME" };
        var host = new Option<string?>("--host") { Description = "Only this HOSTNAME", HelpName = "NAME" };
        var client = new Option<string?>("--client")
        {
            Description = "Only what this client sent: an API key's name, or a client certificate's subject (CN=...)", HelpName = "NAME",
        };
        var severity = new Option<int?>("--severity")
        {
            Description = "This severity or a more severe one: emerg, alert, crit, err, warning, notice, info, debug (or 0-7)",
            HelpName = "LEVEL", CustomParser = ParseSeverity,
        };
        var source = new Option<string?>("--source") { Description = "Only what came over tcp, udp, http, tls or https", HelpName = "SOURCE" };
        source.AcceptOnlyFromAmong("tcp", "udp", "http", "tls", "https");
        var grep = new Option<string?>("--grep") { Description = "Only messages that contain this text (case-sensitive)", HelpName = "TEXT" };
        // Text, not the enum, so that the help says the default as it is typed: [default: text].
        var format = new Option<string>("--format")
        {
            Description = "text, json (a line each) or csv", HelpName = "FORMAT", DefaultValueFactory = _ => "text",
        };
        format.AcceptOnlyFromAmong("text", "json", "csv");
        var limit = new Option<int>(tail ? "--lines" : "--limit")
        {
            Description = tail ? "How many of the newest to show first" : "The most messages shown: the newest that match",
            HelpName = "N", DefaultValueFactory = _ => tail ? 10 : MessageQuery.DefaultLimit,
        };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 0 or > 1_000_000)
            {
                result.AddError($"{limit.Name} must be between 0 and 1000000");
            }
        });
        var since = new Option<DateTimeOffset?>("--since")
        {
            Description = "Received at or after: a duration ago (1h, 30m, 7d) or an RFC 3339 time", HelpName = "WHEN",
            CustomParser = result => ParseWhen(result, "--since"),
        };
        var until = new Option<DateTimeOffset?>("--until")
        {
            Description = "Received before: a duration ago or an RFC 3339 time", HelpName = "WHEN",
            CustomParser = result => ParseWhen(result, "--until"),
        };

        var command = tail
            ? new Command("tail", "Show the newest stored messages, then each new one as serve stores it, until Ctrl+C")
            : new Command("query", "Show the stored messages that match the filters, the newest --limit of them, oldest first");
        foreach (var option in new Option[] { sqlite, postgres, prefix, app, host, client, severity, source, grep, limit, format })
        {
            command.Options.Add(option);
        }

        if (!tail)
        {
            command.Options.Add(since);
            command.Options.Add(until);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var query = new MessageQuery
            {
                App = parse.GetValue(app), Host = parse.GetValue(host), Client = parse.GetValue(client), Severity = parse.GetValue(severity), Source = parse.GetValue(source),
                Grep = parse.GetValue(grep), Limit = parse.GetValue(limit),
                Since = tail ? null : parse.GetValue(since), Until = tail ? null : parse.GetValue(until),
            };
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var printer = new RowPrinter(output, Enum.Parse<RowFormat>(parse.GetValue(format)!, ignoreCase: true), colour: ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
                && Environment.GetEnvironmentVariable("NO_COLOR") is not { Length: > 0 });
            var name = tail ? "tail" : "query";
            try
            {
                await using var reader = await OpenAsync(parse.GetValue(sqlite)!, parse.GetValue(postgres), parse.GetValue(prefix)!);
                var rows = await reader.ReadAsync(query, cancellationToken);
                printer.Header();
                printer.Print(rows);
                return tail ? await FollowAsync(reader, query, rows.Count > 0 ? rows[^1].Id : null, printer, cancellationToken) : 0;
            }
            catch (SinkUnavailableException ex)
            {
                await error.WriteLineAsync($"spillway {name}: {ex.Message}");
                return 1;
            }
            catch (ArgumentException ex)
            {
                await error.WriteLineAsync($"spillway {name}: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Polls for rows stored after <paramref name="lastId"/> until SIGINT or SIGTERM.</summary>
    private static async Task<int> FollowAsync(IMessageReader reader, MessageQuery query, long? lastId, RowPrinter printer, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        try
        {
            // Without a row yet, everything stored from now on is new: start after the newest row of all.
            lastId ??= (await reader.ReadAsync(new MessageQuery { Limit = 1 }, stop.Token)) is [var newest] ? newest.Id : 0;
            while (true)
            {
                var rows = await reader.ReadAsync(query with { AfterId = lastId, Limit = 10_000 }, stop.Token);
                printer.Print(rows);
                if (rows.Count > 0)
                {
                    lastId = rows[^1].Id;
                    continue; // more may be waiting
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), TimeProvider.System, stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private static async Task<IMessageReader> OpenAsync(string sqlite, string? postgres, string prefix)
    {
        if (string.IsNullOrEmpty(postgres))
        {
            return SqliteMessageReader.Open(sqlite);
        }

        var options = new PostgresSinkOptions { ConnectionString = postgres, TablePrefix = prefix };
        options.Validate();
        return new OwnedPostgresReader(NpgsqlDataSource.Create(postgres), options);
    }

    private static int? ParseSeverity(ArgumentResult result)
    {
        var text = result.Tokens[^1].Value.Trim().ToLowerInvariant();
        var index = Array.IndexOf(SeverityNames, text is "error" ? "err" : text is "warn" ? "warning" : text);
        if (index >= 0)
        {
            return index;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 0 and <= 7)
        {
            return number;
        }

        result.AddError($"invalid value '{text}' for --severity: expected one of {string.Join(", ", SeverityNames)}, or 0-7");
        return null;
    }

    private static DateTimeOffset? ParseWhen(ArgumentResult result, string option)
    {
        var text = result.Tokens[^1].Value.Trim();
        if (ValueParsers.TryParseDuration(text, out var ago))
        {
            return TimeProvider.System.GetUtcNow() - ago;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }

        result.AddError($"invalid value '{text}' for {option}: expected a duration ago (1h) or an RFC 3339 time (2026-12-01T08:00:00Z)");
        return null;
    }

    /// <summary>A PostgreSQL reader with its own pool, closed with it.</summary>
    private sealed class OwnedPostgresReader(NpgsqlDataSource dataSource, PostgresSinkOptions options) : IMessageReader
    {
        private readonly PostgresMessageReader _reader = new(options, dataSource);

        public Task<IReadOnlyList<StoredRow>> ReadAsync(MessageQuery query, CancellationToken cancellationToken) => _reader.ReadAsync(query, cancellationToken);

        public ValueTask DisposeAsync() => dataSource.DisposeAsync();
    }

    /// <summary>Writes rows in the chosen format.</summary>
    private sealed class RowPrinter(TextWriter output, RowFormat format, bool colour)
    {
        public void Header()
        {
            if (format == RowFormat.Csv)
            {
                output.WriteLine("id,received_at,source,peer,facility,severity,timestamp,hostname,app_name,proc_id,msg_id,structured_data,message,client");
            }
        }

        public void Print(IReadOnlyList<StoredRow> rows)
        {
            foreach (var row in rows)
            {
                output.WriteLine(format switch
                {
                    RowFormat.Json => Json(row),
                    RowFormat.Csv => Csv(row),
                    _ => Text(row),
                });
            }

            output.Flush();
        }

        private string Text(StoredRow row)
        {
            var app = row.AppName is null ? "-" : row.ProcId is null ? row.AppName : $"{row.AppName}[{row.ProcId}]";
            var level = row.Severity is { } s and >= 0 and <= 7 ? SeverityNames[s] : "-";
            var line = $"{Time(row.ReceivedAt)} {row.Hostname ?? row.Peer} {app} {level}: {Printable(row.Message)}";
            return !colour ? line : row.Severity switch
            {
                <= 3 => "\u001b[31m" + line + "\u001b[0m",
                4 => "\u001b[33m" + line + "\u001b[0m",
                7 => "\u001b[2m" + line + "\u001b[0m",
                _ => line,
            };
        }

        /// <summary>Control characters (a terminal's escape sequences among them) shown as \xNN, never sent to the terminal.</summary>
        private static string Printable(string text)
        {
            if (!text.Any(char.IsControl))
            {
                return text;
            }

            var builder = new StringBuilder(text.Length + 8);
            foreach (var c in text)
            {
                builder.Append(char.IsControl(c) ? string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}") : c.ToString());
            }

            return builder.ToString();
        }

        private static string Json(StoredRow row)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteNumber("id", row.Id);
                json.WriteString("received_at", Time(row.ReceivedAt));
                json.WriteString("source", row.Source);
                json.WriteString("peer", row.Peer);
                Number(json, "facility", row.Facility);
                Number(json, "severity", row.Severity);
                json.WriteString("timestamp", row.Timestamp is { } t ? t.ToString("O", CultureInfo.InvariantCulture) : null);
                json.WriteString("hostname", row.Hostname);
                json.WriteString("app_name", row.AppName);
                json.WriteString("proc_id", row.ProcId);
                json.WriteString("msg_id", row.MsgId);
                json.WriteString("structured_data", row.StructuredData);
                json.WriteString("message", row.Message);
                json.WriteString("client", row.Client);
                json.WriteEndObject();
            }

            return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }

        private static void Number(Utf8JsonWriter json, string name, int? value)
        {
            if (value is { } v)
            {
                json.WriteNumber(name, v);
            }
            else
            {
                json.WriteNull(name);
            }
        }

        private static string Csv(StoredRow row) => string.Join(',',
            row.Id.ToString(CultureInfo.InvariantCulture), Time(row.ReceivedAt), Field(row.Source), Field(row.Peer),
            row.Facility?.ToString(CultureInfo.InvariantCulture) ?? "", row.Severity?.ToString(CultureInfo.InvariantCulture) ?? "",
            row.Timestamp?.ToString("O", CultureInfo.InvariantCulture) ?? "", Field(row.Hostname), Field(row.AppName), Field(row.ProcId),
            Field(row.MsgId), Field(row.StructuredData), Field(row.Message), Field(row.Client));

        private static string Field(string? value) =>
            value is null ? "" : value.AsSpan().IndexOfAny(",\"\r\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

        private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
    }
}
