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
/// <remarks>
/// The messages and rejects tables it makes are partitioned by the UTC day of <c>received_at</c>
/// (<see cref="DailyPartitions"/>): the retention drops a day's partition whole, which leaves nothing for VACUUM. Tables
/// made by an earlier version, without partitions, keep working, and the retention deletes from them in chunks.
/// </remarks>
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
    private readonly string _retentionAgeText;
    private readonly MessageIndexes _indexes;
    private readonly TimeProvider _time;
    private readonly Diagnostics.LogPacer _sweepLog;
    private readonly Diagnostics.LogPacer _partitionLog;
    private readonly DailyPartitions _messageDays;
    private readonly DailyPartitions _rejectDays;

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
        _retentionAgeText = Retention.Format(options.Retention);
        _indexes = MessageIndex.InForce(options.Indexes, options.Retention > TimeSpan.Zero);
        _time = time;
        _sweepLog = new Diagnostics.LogPacer(time);
        _partitionLog = new Diagnostics.LogPacer(time);
        _messageDays = new DailyPartitions(options.TablePrefix + "messages");
        _rejectDays = new DailyPartitions(options.TablePrefix + "rejects");
    }

    /// <inheritdoc />
    public TimeSpan RetentionAge => _retention.Age;

    /// <summary>
    /// Rows deleted one by one by the retention since the start (by this sink; each writer sweeps with its own). The
    /// rows of a day's partition dropped whole are not counted: <see cref="PartitionsDropped"/> counts the days.
    /// </summary>
    public long Expired => _retention.Deleted;

    /// <summary>Day partitions dropped whole by the retention since the start (by this sink).</summary>
    public long PartitionsDropped { get; private set; }

    /// <summary>Whether the messages and the rejects tables are partitioned by day (false for tables of an earlier version).</summary>
    public bool Partitioned => _messageDays.Active && _rejectDays.Active;

    /// <inheritdoc />
    public async ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(_dataSource.ConnectionString);
        var where = $"PostgreSQL at {builder.Host}:{builder.Port} (database {builder.Database ?? builder.Username}, user {builder.Username})";
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await EnsureSchemaAsync(connection, cancellationToken).ConfigureAwait(false);
            Log.Opened(_logger, connection.PostgreSqlVersion, builder.Host, builder.Port, connection.Database, _messages, _rejects);
            Log.RetentionInForce(_logger, _tables, _retentionLine);
            if (_retention.Age > TimeSpan.Zero)
            {
                foreach (var days in new[] { _messageDays, _rejectDays }.Where(d => !d.Active))
                {
                    Log.Unpartitioned(_logger, days.Table);
                }
            }
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
            await EnsureSchemaAsync(connection, cancellationToken).ConfigureAwait(false);
            throw;
        }
        catch (PostgresException ex) when (IsMissingPartition(ex))
        {
            // A partition was dropped under us (the rows are checked against no constraint of ours but the partitions'):
            // the writer's retry makes it again.
            _messageDays.Forget();
            _rejectDays.Forget();
            throw;
        }

        await SweepAsync(cancellationToken).ConfigureAwait(false);
        return refused;
    }

    /// <summary>
    /// When a sweep is due: makes the day partitions ahead, drops those past the retention whole, deletes a chunk of the
    /// rows past it that are left (in the day the cutoff falls in, or in a table without partitions) and of the ledger.
    /// The batch is committed already: a sweep that fails is said and tried again at the next one, never the batch's
    /// failure. Writers sweeping at once take rows apart (SKIP LOCKED) instead of waiting on each other.
    /// </summary>
    private async ValueTask SweepAsync(CancellationToken cancellationToken)
    {
        if (_retention.Due() is not { } due)
        {
            return;
        }

        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await MaintainPartitionsAsync(connection, due.RowsBefore, cancellationToken).ConfigureAwait(false);
            var (messages, rejects) = (0, 0);
            if (due.RowsBefore is { } cutoff)
            {
                messages = await ExpireAsync(connection, _messages, "received_at", cutoff, cancellationToken).ConfigureAwait(false);
                rejects = await ExpireAsync(connection, _rejects, "received_at", cutoff, cancellationToken).ConfigureAwait(false);
            }

            var ledger = await ExpireAsync(connection, _batches, "committed_at", due.LedgerBefore, cancellationToken).ConfigureAwait(false);
            _retention.Swept(messages, rejects, ledger);
        }
        catch (NpgsqlException ex)
        {
            if (_sweepLog.Due())
            {
                Log.RetentionSweepFailed(_logger, _tables, ex.Message);
            }
        }
    }

    /// <summary>Makes the partitions of today and the days ahead, and drops those wholly before the cutoff, when partitioned.</summary>
    private async Task MaintainPartitionsAsync(NpgsqlConnection connection, DateTimeOffset? cutoff, CancellationToken cancellationToken)
    {
        try
        {
            var today = DailyPartitions.DayOf(_time.GetUtcNow());
            var ahead = Enumerable.Range(0, DailyPartitions.DaysAhead + 1).Select(today.AddDays).ToArray();
            foreach (var days in new[] { _messageDays, _rejectDays })
            {
                await days.EnsureAsync(connection, ahead, cancellationToken).ConfigureAwait(false);
                if (cutoff is { } before)
                {
                    foreach (var name in await days.DropBeforeAsync(connection, before, cancellationToken).ConfigureAwait(false))
                    {
                        PartitionsDropped++;
                        Log.PartitionDropped(_logger, name, _retentionAgeText);
                    }
                }
            }
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.QueryCanceled)
        {
            // The lock timeout: writers held the table for longer than a partition waits. Next sweep.
            if (_partitionLog.Due())
            {
                Log.PartitionsFailed(_logger, _tables, ex.MessageText);
            }
        }
    }

    private async Task<int> ExpireAsync(
        NpgsqlConnection connection, string table, string column, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        // The condition on the outer DELETE too lets PostgreSQL look only in the partitions before the cutoff.
        await using var command = new NpgsqlCommand(
            $"DELETE FROM {table} WHERE {column} < $1 AND id IN (SELECT id FROM {table} WHERE {column} < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
            connection);
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
        catch (PostgresException ex) when (IsRefusal(ex) && !IsMissingPartition(ex) && messages.Count > 0)
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

    /// <summary>
    /// A row that fits no partition (a partition dropped under us, which the sink makes again): never the rows' fault.
    /// PostgreSQL says it as a check violation that names no constraint; a CHECK an operator added names its own, and
    /// is a refusal of the row like any other.
    /// </summary>
    private bool IsMissingPartition(PostgresException ex) =>
        ex.SqlState == PostgresErrorCodes.CheckViolation && ex.ConstraintName is null && (_messageDays.Active || _rejectDays.Active);

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
        var (stored, refused) = Partition(messages);
        refused.AddRange(refusedByServer);
        await _messageDays.EnsureAsync(connection, stored.Select(m => DailyPartitions.DayOf(m.ReceivedAt)).Distinct(), cancellationToken)
            .ConfigureAwait(false);
        var rejectDays = rejects.Select(r => r.ReceivedAt).Concat(refused.Select(r => r.Message.ReceivedAt)).Select(DailyPartitions.DayOf).Distinct();
        await _rejectDays.EnsureAsync(connection, rejectDays, cancellationToken).ConfigureAwait(false);

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (id != Guid.Empty)
        {
            await using var ledger = new NpgsqlCommand(
                $"INSERT INTO {_batches} (id, refused, committed_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING refused",
                connection, transaction);
            ledger.Parameters.Add(new NpgsqlParameter { Value = id, NpgsqlDbType = NpgsqlDbType.Uuid });
            ledger.Parameters.Add(new NpgsqlParameter { Value = refused.Count, NpgsqlDbType = NpgsqlDbType.Integer });
            ledger.Parameters.Add(new NpgsqlParameter { Value = _time.GetUtcNow().ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
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

    /// <summary>
    /// Makes what is missing of the schema, under a lock that writers opening at once take in turn: the tables (new ones
    /// partitioned by day), the ledger, the indexes in force (dropping those of this sink's names that are not), and
    /// the partitions of today and the days ahead. Finds out which tables are partitioned.
    /// </summary>
    private async Task EnsureSchemaAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            await using (var command = new NpgsqlCommand($"SELECT pg_advisory_xact_lock(hashtext('spillway schema {_prefix}'))", connection, transaction))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            // A table that exists is left as it is: one of an earlier version, without partitions, keeps working; one
            // that does not is made here, partitioned.
            var messagesKind = await KindAsync(connection, _prefix + "messages", cancellationToken).ConfigureAwait(false);
            var rejectsKind = await KindAsync(connection, _prefix + "rejects", cancellationToken).ConfigureAwait(false);
            var sql = (messagesKind is null ? MessagesTable() + "\n" : "") + (rejectsKind is null ? RejectsTable() + "\n" : "") + Schema();
            foreach (var table in new[] { _prefix + "messages", _prefix + "rejects" })
            {
                // A table of an earlier version gets the columns added since; asked first, since ALTER TABLE takes the
                // table's strongest lock even when there is nothing to add, and would wait for every writer's COPY.
                if (!await HasColumnAsync(connection, table, "client", cancellationToken).ConfigureAwait(false))
                {
                    sql += $"\nALTER TABLE \"{table}\" ADD COLUMN IF NOT EXISTS client text;";
                }
            }

            await using (var command = new NpgsqlCommand(sql, connection, transaction))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            _messageDays.Active = (messagesKind ?? 'p') == 'p';
            _rejectDays.Active = (rejectsKind ?? 'p') == 'p';

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        await _messageDays.LoadAsync(connection, cancellationToken).ConfigureAwait(false);
        await _rejectDays.LoadAsync(connection, cancellationToken).ConfigureAwait(false);

        await MaintainPartitionsAsync(connection, cutoff: null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the table has the column; true when there is no such table yet (it is made with it).</summary>
    private static async Task<bool> HasColumnAsync(NpgsqlConnection connection, string table, string column, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT to_regclass(quote_ident($1)) IS NULL OR EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1)) " +
            "AND attname = $2 AND NOT attisdropped)", connection);
        command.Parameters.AddWithValue(table);
        command.Parameters.AddWithValue(column);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }

    /// <summary>The table's <c>relkind</c> (<c>p</c> partitioned, <c>r</c> plain), or null when there is none.</summary>
    private static async Task<char?> KindAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT relkind FROM pg_class WHERE oid = to_regclass(quote_ident($1))", connection);
        command.Parameters.AddWithValue(table);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is char kind ? kind : null;
    }

    /// <summary>
    /// The messages table, partitioned. PostgreSQL 15 takes no identity column on a partitioned table, so the id comes
    /// from a sequence of the table's own (dropped with it), named apart from the <c>{table}_id_seq</c> of an identity
    /// column, which a renamed table of an earlier version keeps; and a key on a partitioned table must hold the
    /// partition's column, so the primary key is (id, received_at): the id alone is unique all the same, since only
    /// the sequence gives it.
    /// </summary>
    private string MessagesTable() => $"""
        CREATE SEQUENCE IF NOT EXISTS "{_prefix}messages_ids";
        CREATE TABLE {_messages} (
            id              bigint      NOT NULL DEFAULT nextval('"{_prefix}messages_ids"'),
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
            message         text        NOT NULL,
            client          text,
            PRIMARY KEY (id, received_at)
        ) PARTITION BY RANGE (received_at);
        ALTER SEQUENCE "{_prefix}messages_ids" OWNED BY {_messages}.id;
        """;

    /// <summary>The rejects table, partitioned as <see cref="MessagesTable"/> is.</summary>
    private string RejectsTable() => $"""
        CREATE SEQUENCE IF NOT EXISTS "{_prefix}rejects_ids";
        CREATE TABLE {_rejects} (
            id          bigint      NOT NULL DEFAULT nextval('"{_prefix}rejects_ids"'),
            received_at timestamptz NOT NULL,
            source      text        NOT NULL,
            peer        text        NOT NULL,
            reason      text        NOT NULL,
            detail      text,
            raw         bytea       NOT NULL,
            client      text,
            PRIMARY KEY (id, received_at)
        ) PARTITION BY RANGE (received_at);
        ALTER SEQUENCE "{_prefix}rejects_ids" OWNED BY {_rejects}.id;
        """;

    /// <summary>The rest of the schema, whichever tables were there: the ledger and the indexes in force.</summary>
    private string Schema() => $"""
        CREATE TABLE IF NOT EXISTS {_batches} (
            id           uuid        PRIMARY KEY,
            refused      integer     NOT NULL,
            committed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS "{_prefix}batches_committed_at" ON {_batches} (committed_at);
        {MessageIndex.Statements(_indexes, _retention.Age > TimeSpan.Zero, _prefix)}
        """;

    /// <summary>Messages PostgreSQL can hold, and those it cannot (a NUL in a text column), with the reason.</summary>
    private static (List<Message> Stored, List<(Message Message, string Reason)> Refused) Partition(IReadOnlyList<Message> messages)
    {
        var stored = new List<Message>(messages.Count);
        var refused = new List<(Message, string)>();
        foreach (var m in messages)
        {
            var holdsNul = m.Utf8Text.Span.Contains((byte)0) || HasNul(m.Hostname) || HasNul(m.AppName) || HasNul(m.ProcId)
                || HasNul(m.MsgId) || HasNul(m.StructuredData) || HasNul(m.Client) || m.Peer.Contains('\0', StringComparison.Ordinal);
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
            COPY {_messages} (received_at, source, peer, facility, severity, "timestamp", hostname, app_name, proc_id, msg_id, structured_data, message,
                              client)
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
            await WriteAsync(copy, m.Client, cancellationToken).ConfigureAwait(false);
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
            $"COPY {_rejects} (received_at, source, peer, reason, detail, raw, client) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        foreach (var r in rejects)
        {
            await WriteRejectAsync(copy, r.ReceivedAt, r.Transport, r.Peer, r.Reason, r.Detail, r.Raw, r.Client, cancellationToken).ConfigureAwait(false);
        }

        foreach (var (m, reason) in refused)
        {
            await WriteRejectAsync(copy, m.ReceivedAt, m.Transport, m.Peer.Replace("\0", "", StringComparison.Ordinal), RejectReason.RefusedByDb,
                reason, m.Utf8Text.ToArray(), m.Client?.Replace("\0", "", StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteRejectAsync(
        NpgsqlBinaryImporter copy, DateTimeOffset receivedAt, Transport transport, string peer, RejectReason reason, string? detail, byte[] raw,
        string? client, CancellationToken cancellationToken)
    {
        await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(receivedAt.ToUniversalTime(), NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(transport.ToName(), NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(peer, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(reason.ToName(), NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
        await WriteAsync(copy, detail?.Replace("\0", "", StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
        await copy.WriteAsync(raw, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
        await WriteAsync(copy, client, cancellationToken).ConfigureAwait(false);
    }

    private static Task WriteAsync(NpgsqlBinaryImporter copy, string? value, CancellationToken cancellationToken) =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync(value, NpgsqlDbType.Text, cancellationToken);

    private static Task WriteAsync(NpgsqlBinaryImporter copy, int? value, CancellationToken cancellationToken) =>
        value is null ? copy.WriteNullAsync(cancellationToken) : copy.WriteAsync((short)value.Value, NpgsqlDbType.Smallint, cancellationToken);
}
