using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Sinks.PostgreSql;

/// <summary>
/// Stores batches in PostgreSQL: one transaction per batch, rows sent by binary COPY, and the batch's id recorded in
/// a ledger table in the same transaction. A retry after a failure whose outcome was unknown (the connection died
/// during COMMIT) finds its id there and stores nothing twice. Several writers may each use an instance of their
/// own over one shared <see cref="NpgsqlDataSource"/>.
/// </summary>
public sealed class PostgresSink : ISink
{
    private const string NulReason = "PostgreSQL text cannot hold the NUL character (0x00)";

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;
    private readonly string _messages;
    private readonly string _rejects;
    private readonly string _batches;
    private readonly string _prefix;
    private readonly Retention _retention;
    private readonly string _retentionLine;
    private readonly string _tables;

    /// <summary>Creates the sink; <see cref="OpenAsync"/> checks the server and creates the schema.</summary>
    /// <param name="options">The table prefix and the retention (the connection string is the data source's).</param>
    /// <param name="dataSource">The connection pool, shared by the writers.</param>
    /// <param name="logger">Where the sink logs.</param>
    public PostgresSink(PostgresSinkOptions options, NpgsqlDataSource dataSource, ILogger<PostgresSink> logger)
        : this(options, dataSource, logger, TimeProvider.System)
    {
    }

    /// <summary>Creates the sink, with the clock its retention goes by; <see cref="OpenAsync"/> checks the server and creates the schema.</summary>
    public PostgresSink(PostgresSinkOptions options, NpgsqlDataSource dataSource, ILogger<PostgresSink> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        _dataSource = dataSource;
        _logger = logger;
        _prefix = options.TablePrefix;
        _messages = $"\"{options.TablePrefix}messages\"";
        _rejects = $"\"{options.TablePrefix}rejects\"";
        _batches = $"\"{options.TablePrefix}batches\"";
        _retention = new Retention(options.Retention, time, options.RetentionChunkRows);
        _retentionLine = _retention.Description;
        _tables = $"{_messages} and {_rejects}";
    }

    /// <summary>Rows deleted by the retention since the start (by this sink; each writer sweeps with its own).</summary>
    public long Expired => _retention.Deleted;

    /// <inheritdoc />
    public async ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(_dataSource.ConnectionString);
        var where = $"PostgreSQL at {builder.Host}:{builder.Port} (database {builder.Database ?? builder.Username}, user {builder.Username})";
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand(Schema(), connection))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            Log.Opened(_logger, connection.PostgreSqlVersion, builder.Host, builder.Port, connection.Database, _messages, _rejects);
            Log.RetentionInForce(_logger, _tables, _retentionLine);
        }
        catch (PostgresException ex)
        {
            // The server answered and said no: bad password, no such database, no right to create the tables.
            throw new SinkUnavailableException($"{where} refused: {ex.MessageText} (SQLSTATE {ex.SqlState})", ex);
        }
        catch (NpgsqlException ex)
        {
            var reason = ex.InnerException is SocketException socket ? socket.Message : ex.Message;
            throw new SinkUnavailableException($"cannot reach {where}: {reason}", ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask<int> WriteAsync(Batch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int refused;
        try
        {
            refused = await StoreAsync(batch.Id, batch.Messages, batch.Rejects, [], cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // Someone dropped a table under us: make the schema again, so that the writer's retry finds it.
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(Schema(), connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            throw;
        }

        await SweepAsync(cancellationToken).ConfigureAwait(false);
        return refused;
    }

    /// <summary>
    /// Deletes a chunk of the rows past the retention, when a sweep is due. The batch is committed already: a sweep
    /// that fails is said and tried again at the next one, never the batch's failure. Writers sweeping at once take
    /// rows apart (SKIP LOCKED) instead of waiting on each other.
    /// </summary>
    private async ValueTask SweepAsync(CancellationToken cancellationToken)
    {
        if (_retention.Due() is not { } cutoff)
        {
            return;
        }

        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            var messages = await ExpireAsync(connection, _messages, cutoff, cancellationToken).ConfigureAwait(false);
            var rejects = await ExpireAsync(connection, _rejects, cutoff, cancellationToken).ConfigureAwait(false);
            _retention.Swept(messages, rejects);
        }
        catch (NpgsqlException ex)
        {
            Log.RetentionSweepFailed(_logger, _tables, ex.Message);
        }
    }

    private async Task<int> ExpireAsync(NpgsqlConnection connection, string table, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = cutoff.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter { Value = _retention.ChunkRows, NpgsqlDbType = NpgsqlDbType.Integer });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores messages and rejects in one transaction. If the server refuses a row (a data or constraint error), the
    /// messages are split in halves, each stored in a transaction of its own, down to the single message it refuses,
    /// which goes to the rejects table with the server's words; the rest of the batch is stored. Each part has an id
    /// derived from its batch's, so a retry of the whole batch finds the parts already stored.
    /// </summary>
    private async ValueTask<int> StoreAsync(
        Guid id, IReadOnlyList<Message> messages, IReadOnlyList<Reject> rejects, IReadOnlyList<(Message Message, string Reason)> refusedByServer,
        CancellationToken cancellationToken)
    {
        try
        {
            return await WriteOnceAsync(id, messages, rejects, refusedByServer, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (IsRefusal(ex) && messages.Count > 0)
        {
            if (messages.Count == 1)
            {
                return await StoreAsync(Part(id, 0), [], rejects, [.. refusedByServer, (messages[0], $"{ex.MessageText} (SQLSTATE {ex.SqlState})")],
                    cancellationToken).ConfigureAwait(false);
            }

            var half = messages.Count / 2;
            var left = await StoreAsync(Part(id, 1), [.. messages.Take(half)], rejects, refusedByServer, cancellationToken).ConfigureAwait(false);
            var right = await StoreAsync(Part(id, 2), [.. messages.Skip(half)], [], [], cancellationToken).ConfigureAwait(false);
            return left + right;
        }
    }

    /// <summary>Data exceptions (class 22) and integrity violations (class 23): the rows, not the server, are the problem.</summary>
    private static bool IsRefusal(PostgresException ex) => ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState.StartsWith("23", StringComparison.Ordinal);

    /// <summary>The id of a part of a split batch: the same for the same part on every attempt.</summary>
    private static Guid Part(Guid id, byte side)
    {
        if (id == Guid.Empty)
        {
            return id;
        }

        Span<byte> bytes = stackalloc byte[17];
        id.TryWriteBytes(bytes);
        bytes[16] = side;
        return new Guid(System.Security.Cryptography.SHA256.HashData(bytes)[..16]);
    }

    private async ValueTask<int> WriteOnceAsync(
        Guid id, IReadOnlyList<Message> messages, IReadOnlyList<Reject> rejects, IReadOnlyList<(Message Message, string Reason)> refusedByServer,
        CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        var (stored, refused) = Partition(messages);
        refused.AddRange(refusedByServer);
        if (id != Guid.Empty)
        {
            await using var ledger = new NpgsqlCommand(
                $"INSERT INTO {_batches} (id, refused) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING refused", connection, transaction);
            ledger.Parameters.Add(new NpgsqlParameter { Value = id, NpgsqlDbType = NpgsqlDbType.Uuid });
            ledger.Parameters.Add(new NpgsqlParameter { Value = refused.Count, NpgsqlDbType = NpgsqlDbType.Integer });
            if (await ledger.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                // An earlier attempt of this batch committed; its answer was lost on the way back. Nothing to do but
                // say how many of its messages it refused.
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                await using var find = new NpgsqlCommand($"SELECT refused FROM {_batches} WHERE id = $1", connection);
                find.Parameters.Add(new NpgsqlParameter { Value = id, NpgsqlDbType = NpgsqlDbType.Uuid });
                return (int)(await find.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? 0);
            }
        }

        await CopyMessagesAsync(connection, stored, cancellationToken).ConfigureAwait(false);
        await CopyRejectsAsync(connection, rejects, refused, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var (_, reason) in refused)
        {
            Log.Refused(_logger, 1, reason);
        }

        return refused.Count;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the data source belongs to whoever made it

    private string Schema() => $"""
        CREATE TABLE IF NOT EXISTS {_messages} (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            received_at     timestamptz NOT NULL,
            source          text        NOT NULL,
            peer            text        NOT NULL,
            facility        smallint,
            severity        smallint,
            "timestamp"     timestamptz,
            hostname        text,
            app_name        text,
            proc_id         text,
            msg_id          text,
            structured_data text,
            message         text        NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {_rejects} (
            id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            received_at timestamptz NOT NULL,
            source      text        NOT NULL,
            peer        text        NOT NULL,
            reason      text        NOT NULL,
            detail      text,
            raw         bytea       NOT NULL
        );
        CREATE TABLE IF NOT EXISTS {_batches} (
            id           uuid        PRIMARY KEY,
            refused      integer     NOT NULL,
            committed_at timestamptz NOT NULL DEFAULT now()
        );
        -- A batch is retried within seconds or minutes: a week of ledger is ample and keeps the table small.
        DELETE FROM {_batches} WHERE committed_at < now() - interval '7 days';
        {(_retention.Age > TimeSpan.Zero ? RetentionIndexes() : "")}
        """;

    /// <summary>Retention deletes by received time: without these, each chunk would scan the whole table.</summary>
    private string RetentionIndexes() => $"""
        CREATE INDEX IF NOT EXISTS "{_prefix}messages_received_at" ON {_messages} (received_at);
        CREATE INDEX IF NOT EXISTS "{_prefix}rejects_received_at" ON {_rejects} (received_at);
        """;

    /// <summary>Messages PostgreSQL can hold, and those it cannot (a NUL in a text column), with the reason.</summary>
    private static (List<Message> Stored, List<(Message Message, string Reason)> Refused) Partition(IReadOnlyList<Message> messages)
    {
        var stored = new List<Message>(messages.Count);
        var refused = new List<(Message, string)>();
        foreach (var m in messages)
        {
            var holdsNul = m.Utf8Text.Span.Contains((byte)0) || HasNul(m.Hostname) || HasNul(m.AppName) || HasNul(m.ProcId)
                || HasNul(m.MsgId) || HasNul(m.StructuredData) || m.Peer.Contains('\0', StringComparison.Ordinal);
            if (holdsNul)
            {
                refused.Add((m, NulReason));
            }
            else
            {
                stored.Add(m);
            }
        }

        return (stored, refused);
    }

    private static bool HasNul(string? text) => text is not null && text.Contains('\0', StringComparison.Ordinal);

    private async Task CopyMessagesAsync(NpgsqlConnection connection, List<Message> messages, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            return;
        }

        await using var copy = await connection.BeginBinaryImportAsync(
            $"""
            COPY {_messages} (received_at, source, peer, facility, severity, "timestamp", hostname, app_name, proc_id, msg_id, structured_data, message)
            FROM STDIN (FORMAT BINARY)
            """, cancellationToken).ConfigureAwait(false);
        foreach (var m in messages)
        {
            await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(m.ReceivedAt.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(m.Transport.ToName(), NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(m.Peer, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await WriteAsync(copy, m.Facility, cancellationToken).ConfigureAwait(false);
            await WriteAsync(copy, m.Severity, cancellationToken).ConfigureAwait(false);
            if (m.Timestamp is { } timestamp)
            {
                await copy.WriteAsync(timestamp.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
            }

            await WriteAsync(copy, m.Hostname, cancellationToken).ConfigureAwait(false);
            await WriteAsync(copy, m.AppName, cancellationToken).ConfigureAwait(false);
            await WriteAsync(copy, m.ProcId, cancellationToken).ConfigureAwait(false);
            await WriteAsync(copy, m.MsgId, cancellationToken).ConfigureAwait(false);
            await WriteAsync(copy, m.StructuredData, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(m.Utf8Text, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false); // UTF-8 as held: no string
        }

        // Disposing a COPY that was not completed rolls it back: completing it is what sends the rows.
        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CopyRejectsAsync(
        NpgsqlConnection connection, IReadOnlyList<Reject> rejects, List<(Message Message, string Reason)> refused, CancellationToken cancellationToken)
    {
        if (rejects.Count == 0 && refused.Count == 0)
        {
            return;
        }

        await using var copy = await connection.BeginBinaryImportAsync(
            $"COPY {_rejects} (received_at, source, peer, reason, detail, raw) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        foreach (var r in rejects)
        {
            await WriteRejectAsync(copy, r.ReceivedAt, r.Transport, r.Peer, r.Reason, r.Detail, r.Raw, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (m, reason) in refused)
        {
            await WriteRejectAsync(copy, m.ReceivedAt, m.Transport, m.Peer.Replace("\0", "", StringComparison.Ordinal), RejectReason.RefusedByDb,
                reason, m.Utf8Text.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteRejectAsync(
        NpgsqlBinaryImporter copy, DateTimeOffset receivedAt, Transport transport, string peer, RejectReason reason, string? detail, byte[] raw,
        CancellationToken cancellationToken)
    {
        await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(receivedAt.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(transport.ToName(), NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(peer, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(reason.ToName(), NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
        await WriteAsync(copy, detail?.Replace("\0", "", StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(raw, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
    }

    private static Task WriteAsync(NpgsqlBinaryImporter copy, string? value, CancellationToken cancellationToken) =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    private static Task WriteAsync(NpgsqlBinaryImporter copy, int? value, CancellationToken cancellationToken) =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync((short)value.Value, NpgsqlDbType.Smallint, cancellationToken);
}
