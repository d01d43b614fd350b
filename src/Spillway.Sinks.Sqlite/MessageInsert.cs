using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Spillway.Messages;

namespace Spillway.Sinks.Sqlite;

/// <summary>
/// The INSERT of a message row, prepared once per connection and run for every row through SQLitePCLRaw, the layer
/// Microsoft.Data.Sqlite is built on. Values are bound straight from the message: its text as the UTF-8 it holds, the
/// other strings encoded into one reused buffer (SQLite copies what is bound), times formatted in place, integers as
/// integers. A row costs no
/// allocation, where <see cref="SqliteCommand"/> cost about 1.4 KB per row (boxed values, a UTF-8 array per string,
/// a data reader per execution): garbage that, in the service, made the collector copy the buffered messages over
/// and over while the writer waited.
/// </summary>
/// <remarks>The connection's transaction covers the statement: it runs on the same <c>sqlite3</c> handle.</remarks>
internal sealed class MessageInsert : IDisposable
{
    /// <summary>The statement; its parameters are numbered in the order <see cref="Insert"/> binds them.</summary>
    public const string Sql = """
        INSERT INTO messages (received_at, source, peer, facility, severity, timestamp, hostname, app_name, proc_id, msg_id,
                              structured_data, message, client)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
        """;

    /// <summary>The length of a UTC time in the round-trip ("O") format, to the tick.</summary>
    private const int RoundTripLength = 28;

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private byte[] _utf8 = new byte[4096];

    public MessageInsert(sqlite3 db)
    {
        _db = db;
        Check(raw.sqlite3_prepare_v3(db, Sql, raw.SQLITE_PREPARE_PERSISTENT, out _statement));
    }

    /// <summary>Inserts one row; throws <see cref="SqliteException"/> with SQLite's own message when it fails.</summary>
    public void Insert(Message message)
    {
        try
        {
            BindTime(1, message.ReceivedAt);
            BindText(2, message.Transport.ToName());
            BindText(3, message.Peer);
            BindInt(4, message.Facility);
            BindInt(5, message.Severity);
            BindTime(6, message.Timestamp);
            BindText(7, message.Hostname);
            BindText(8, message.AppName);
            BindText(9, message.ProcId);
            BindText(10, message.MsgId);
            BindText(11, message.StructuredData);
            BindUtf8(12, message.Utf8Text.Span);
            BindText(13, message.Client);
            var rc = raw.sqlite3_step(_statement);
            if (rc != raw.SQLITE_DONE)
            {
                Check(rc);
            }
        }
        finally
        {
            // Its result repeats the step's, already checked; the statement is ready for the next row either way.
            _ = raw.sqlite3_reset(_statement);
        }
    }

    public void Dispose() => _statement.Dispose();

    private void BindText(int index, string? value)
    {
        if (value is null)
        {
            Check(raw.sqlite3_bind_null(_statement, index));
            return;
        }

        var most = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (most > _utf8.Length)
        {
            _utf8 = new byte[Math.Max(most, _utf8.Length * 2)];
        }

        var length = Encoding.UTF8.GetBytes(value, _utf8);
        BindUtf8(index, _utf8.AsSpan(0, length));
    }

    // An empty span is a null pointer, which SQLite would bind as NULL: the empty string goes as a string.
    private void BindUtf8(int index, ReadOnlySpan<byte> value) =>
        Check(value.IsEmpty ? raw.sqlite3_bind_text(_statement, index, "") : raw.sqlite3_bind_text(_statement, index, value));

    private void BindInt(int index, int? value) =>
        Check(value is { } v ? raw.sqlite3_bind_int(_statement, index, v) : raw.sqlite3_bind_null(_statement, index));

    private void BindTime(int index, DateTimeOffset? value)
    {
        if (value is not { } time)
        {
            Check(raw.sqlite3_bind_null(_statement, index));
            return;
        }

        // The round-trip format has a fast path: "2026-11-25T03:57:03.1234567Z". Its seventh fractional digit is cut,
        // which is what "ffffff" does, and what SqliteSink.FormatTime stores.
        Span<byte> text = stackalloc byte[RoundTripLength];
        if (!time.UtcDateTime.TryFormat(text, out var written, "O", CultureInfo.InvariantCulture) || written != RoundTripLength)
        {
            throw new InvalidOperationException($"cannot format {time:O} as a stored time");
        }

        text[^2] = (byte)'Z';
        Check(raw.sqlite3_bind_text(_statement, index, text[..^1]));
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _db);
        }
    }
}
