using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Sinks.Sqlite;

/// <summary>
/// Stores batches in one SQLite file: WAL journal, one transaction per batch, one prepared INSERT per table reused
/// for every row, and the batch's id in a <c>batches</c> ledger in the same transaction, so a batch written twice
/// is stored once. After a failed write the connection is closed and reopened on the next attempt, so a retry starts
/// clean (and recreates the schema if someone dropped a table).
/// </summary>
/// <remarks>
/// Microsoft.Data.Sqlite is synchronous underneath; <see cref="WriteAsync"/> runs the transaction on the calling
/// thread. One writer uses one sink, so that costs one thread-pool thread per writer while it writes.
/// </remarks>
public sealed class SqliteSink : ISink
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS messages (
            id              INTEGER PRIMARY KEY,
            received_at     TEXT    NOT NULL,
            source          TEXT    NOT NULL,
            peer            TEXT    NOT NULL,
            facility        INTEGER,
            severity        INTEGER,
            timestamp       TEXT,
            hostname        TEXT,
            app_name        TEXT,
            proc_id         TEXT,
            msg_id          TEXT,
            structured_data TEXT,
            message         TEXT    NOT NULL,
            client          TEXT
        );
        CREATE TABLE IF NOT EXISTS batches (
            id           TEXT PRIMARY KEY,
            committed_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS batches_committed_at ON batches (committed_at);
        CREATE TABLE IF NOT EXISTS rejects (
            id          INTEGER PRIMARY KEY,
            received_at TEXT    NOT NULL,
            source      TEXT    NOT NULL,
            peer        TEXT    NOT NULL,
            reason      TEXT    NOT NULL,
            detail      TEXT,
            raw         BLOB    NOT NULL,
            client      TEXT
        );
        """;

    // The columns added since the first schema, which a table made before them gets at open: ALTER TABLE appends a
    // column, so the tables made new list them last too, and both have the same columns in the same order.
    private static readonly (string Table, string Column, string Type)[] AddedColumns = [("messages", "client", "TEXT"), ("rejects", "client", "TEXT")];

    private const string InsertReject = """
        INSERT INTO rejects (received_at, source, peer, reason, detail, raw, client)
        VALUES ($received_at, $source, $peer, $reason, $detail, $raw, $client)
        """;

    private const string FindBatch = "SELECT count(*) FROM batches WHERE id = $id";

    private const string InsertBatch = "INSERT INTO batches (id, committed_at) VALUES ($id, $committed_at)";

    private const string PruneBatches = "DELETE FROM batches WHERE id IN (SELECT id FROM batches WHERE committed_at < $cutoff LIMIT $limit)";

    /// <summary>The fraction of <see cref="SqliteSinkOptions.MaxBytes"/> past which the oldest rows go, and the one they go down to.</summary>
    private const double TrimAbove = 0.95, TrimTo = 0.90;

    /// <summary>The most chunks one write deletes to get under the size bound; the rest go after the next.</summary>
    private const int MaxTrimChunks = 64;

    private const int CancellationCheckInterval = 4096;

    private readonly SqliteSinkOptions _options;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly Retention _retention;
    private readonly string _retentionLine;
    private readonly MessageIndexes _indexes;
    private readonly LogPacer _sizeLog;
    private readonly LogPacer _sweepLog;
    private readonly TimeProvider _time;
    private readonly string _maxBytesText;
    private Session? _session;
    private long _trimmed;

    /// <summary>Creates the sink; <see cref="OpenAsync"/> opens it.</summary>
    public SqliteSink(SqliteSinkOptions options, ILogger<SqliteSink> logger)
        : this(options, logger, TimeProvider.System)
    {
    }

    /// <summary>Creates the sink, with the clock its retention goes by; <see cref="OpenAsync"/> opens it.</summary>
    public SqliteSink(SqliteSinkOptions options, ILogger<SqliteSink> logger, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();
        _options = options;
        _logger = logger;
        _retention = new Retention(options.Retention, time, options.RetentionChunkRows);
        _retentionLine = _retention.Description + (options.MaxBytes == 0 ? ""
            : string.Create(CultureInfo.InvariantCulture, $"; past {options.MaxBytes:N0} bytes (--max-db-bytes) the oldest rows are deleted"));
        _indexes = MessageIndex.InForce(options.Indexes, options.Retention > TimeSpan.Zero);
        _time = time;
        _sizeLog = new LogPacer(time);
        _sweepLog = new LogPacer(time);
        _maxBytesText = options.MaxBytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes";
        FullPath = System.IO.Path.GetFullPath(options.Path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = FullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
    }

    /// <summary>The database file's absolute path.</summary>
    public string FullPath { get; }

    /// <summary>How often the file was found deleted or replaced under the sink, and made anew at the path.</summary>
    public int Replaced { get; private set; }

    /// <inheritdoc />
    public string? Notice => Replaced == 0 ? null :
        $"the SQLite database {FullPath} was deleted or replaced under the service {Replaced} time(s): it was made anew at the path, " +
        "where every batch since is; what was stored before is in the file that was removed";

    /// <summary>Formats a time as stored in <c>received_at</c> and <c>timestamp</c>: ISO 8601 in UTC, to the microsecond.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public ValueTask OpenAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var directory = System.IO.Path.GetDirectoryName(FullPath);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            if (_session is null)
            {
                _session = OpenSession(checkIntegrity: true);
                Log.RetentionInForce(_logger, FullPath, _retentionLine);
            }
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new SinkUnavailableException($"cannot open SQLite database '{FullPath}': {ex.Message}", ex);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<int> WriteAsync(Batch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var session = _session ??= OpenSession();
            session.Write(batch, cancellationToken);
            var atPath = FileIdentity.Of(FullPath);
            if (atPath != session.Identity)
            {
                // Deleted or replaced under us: the batch went into a file nobody will read. It is still the writer's
                // (uncommitted in the buffer), so it is written again into a database made anew at the path.
                Log.FileReplaced(_logger, FullPath, atPath is null ? "no file at the path" : "another file at the path");
                session.EmptyWriteAheadLog();
                Reset();
                session = _session = OpenSession();
                session.Write(batch, cancellationToken);
                Replaced++;
            }

            Sweep(session);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            Reset();
            throw new OperationCanceledException("The write was cancelled; nothing of the batch was stored.", ex, cancellationToken);
        }
        catch
        {
            // Start the next attempt from a fresh connection: whatever state this one is in, it is gone.
            Reset();
            throw;
        }

        return ValueTask.FromResult(0); // SQLite holds any text, NUL included: it refuses nothing
    }

    /// <inheritdoc />
    public TimeSpan RetentionAge => _retention.Age;

    /// <summary>Rows deleted by the retention, by age or by size, since the start.</summary>
    public long Expired => _retention.Deleted + _trimmed;

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Reset();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Deletes a chunk of the rows past the retention and of the ledger, when a sweep is due, and the oldest rows while
    /// the file is past its size bound; then gives the freed pages back to the filesystem. The batch is committed
    /// already: a sweep that fails (another process holds the lock) is said and tried again at the next one, never the
    /// batch's failure.
    /// </summary>
    private void Sweep(Session session)
    {
        try
        {
            var deleted = 0;
            if (_retention.Due() is { } due)
            {
                var (messages, rejects) = due.RowsBefore is { } cutoff ? session.Expire(FormatTime(cutoff), _retention.ChunkRows) : (0, 0);
                var ledger = session.PruneLedger(FormatTime(due.LedgerBefore), _retention.ChunkRows);
                _retention.Swept(messages, rejects, ledger);
                deleted += messages + rejects;
            }

            if (_options.MaxBytes > 0)
            {
                deleted += Trim(session);
            }

            if (deleted > 0 && session.IncrementalVacuum)
            {
                session.GiveBackFreePages();
            }
        }
        catch (SqliteException ex)
        {
            if (_sweepLog.Due())
            {
                Log.RetentionSweepFailed(_logger, FullPath, ex.Message);
            }
        }
    }

    /// <summary>Past 95% of the size bound, deletes the oldest rows, a chunk at a time, until the rows take 90% of it.</summary>
    private int Trim(Session session)
    {
        var bound = _options.MaxBytes;
        if (session.UsedBytes() <= bound * TrimAbove)
        {
            return 0;
        }

        var deleted = 0;
        for (var chunk = 0; chunk < MaxTrimChunks && session.UsedBytes() > bound * TrimTo; chunk++)
        {
            var rows = session.DeleteOldest(_retention.ChunkRows);
            if (rows == 0)
            {
                break; // nothing left to delete: the schema and the ledger alone are past the bound
            }

            deleted += rows;
        }

        _trimmed += deleted;
        if (_sizeLog.Due())
        {
            Log.SizeBoundDeleting(_logger, FullPath, _maxBytesText, _trimmed, session.OldestKept() ?? "(none left)");
        }

        return deleted;
    }

    private void Reset()
    {
        _session?.Dispose();
        _session = null;
    }

    private Session OpenSession(bool checkIntegrity = false)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();

            // Only a database without tables takes it: a new file gives the pages of deleted rows back to the
            // filesystem (PRAGMA incremental_vacuum after a sweep); an existing one stays as it was made.
            Execute(connection, "PRAGMA auto_vacuum = INCREMENTAL");
            if (checkIntegrity)
            {
                CheckIntegrity(connection);
            }

            var journalMode = Scalar(connection, "PRAGMA journal_mode = WAL");
            if (!string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                Log.JournalModeNotWal(_logger, FullPath, journalMode);
            }

            Execute(connection, $"PRAGMA synchronous = {_options.Synchronous.ToString().ToUpperInvariant()}");
            Execute(connection, Schema);
            foreach (var (table, column, type) in AddedColumns)
            {
                if (Scalar(connection, $"SELECT count(*) FROM pragma_table_info('{table}') WHERE name = '{column}'") == "0")
                {
                    Execute(connection, $"ALTER TABLE {table} ADD COLUMN {column} {type}");
                }
            }

            Execute(connection, MessageIndex.Statements(_indexes, _options.Retention > TimeSpan.Zero));
            var incremental = Scalar(connection, "PRAGMA auto_vacuum") == "2";
            if (!incremental && checkIntegrity && (_options.Retention > TimeSpan.Zero || _options.MaxBytes > 0))
            {
                Log.NoAutoVacuum(_logger, FullPath);
            }

            var session = new Session(connection, _time) { Identity = FileIdentity.Of(FullPath), IncrementalVacuum = incremental };
            Log.Opened(_logger, FullPath, journalMode, _options.Synchronous);
            return session;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// <c>PRAGMA quick_check</c> at start: a damaged database is refused (or written into with a warning, when allowed),
    /// since batches written into it might be lost with it. It reads every page, so it takes a while on a large file.
    /// </summary>
    private void CheckIntegrity(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA quick_check(5)";
        var findings = new List<string>();
        try
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                findings.Add(reader.GetString(0));
            }
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 11)
        {
            findings.Add(ex.Message); // SQLITE_CORRUPT: too damaged for the check to finish
        }

        if (findings is ["ok"])
        {
            return;
        }

        var finding = string.Join("; ", findings);
        if (!_options.AllowDamaged)
        {
            throw new SinkUnavailableException(
                $"the SQLite database '{FullPath}' fails PRAGMA quick_check ({finding}): restore it from a backup or move it aside, " +
                "or start with --sqlite-allow-damaged to write into it anyway");
        }

        Log.Damaged(_logger, FullPath, finding);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static string Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture) ?? "";
    }

    private static object Nullable(string? value) => value is null ? DBNull.Value : value;

    /// <summary>An open connection with its prepared statements.</summary>
    private sealed class Session : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly TimeProvider _time;
        private readonly MessageInsert _message;
        private readonly SqliteCommand _reject;
        private readonly SqliteCommand _findBatch;
        private readonly SqliteCommand _insertBatch;
        private readonly SqliteCommand _expireMessages;
        private readonly SqliteCommand _expireRejects;
        private readonly SqliteParameter[] _r;
        private readonly SqliteParameter[] _find;
        private readonly SqliteParameter[] _insert;
        private readonly SqliteParameter[] _expireM;
        private readonly SqliteParameter[] _expireR;
        private readonly SqliteCommand _pruneBatches;
        private readonly SqliteParameter[] _prune;

        /// <summary>The file the connection opened, as the path named it then.</summary>
        public FileIdentity? Identity { get; init; }

        /// <summary>Whether the file gives freed pages back (<c>auto_vacuum = INCREMENTAL</c>).</summary>
        public bool IncrementalVacuum { get; init; }

        public Session(SqliteConnection connection, TimeProvider time)
        {
            _connection = connection;
            _time = time;
            (_findBatch, _find) = Prepare(connection, FindBatch, "$id");
            (_insertBatch, _insert) = Prepare(connection, InsertBatch, "$id", "$committed_at");
            (_pruneBatches, _prune) = Prepare(connection, PruneBatches, "$cutoff", "$limit");
            _message = new MessageInsert(connection.Handle!);
            (_reject, _r) = Prepare(connection, InsertReject, "$received_at", "$source", "$peer", "$reason", "$detail", "$raw", "$client");
            (_expireMessages, _expireM) = Prepare(connection, Expire("messages"), "$cutoff", "$limit");
            (_expireRejects, _expireR) = Prepare(connection, Expire("rejects"), "$cutoff", "$limit");
        }

        /// <summary>Deletes up to <paramref name="limit"/> rows of each table received before <paramref name="cutoff"/>, each table in a transaction of its own.</summary>
        public (int Messages, int Rejects) Expire(string cutoff, int limit)
        {
            _expireM[0].Value = _expireR[0].Value = cutoff;
            _expireM[1].Value = _expireR[1].Value = limit;
            return (_expireMessages.ExecuteNonQuery(), _expireRejects.ExecuteNonQuery());
        }

        /// <summary>Deletes up to <paramref name="limit"/> ledger entries committed before <paramref name="cutoff"/>.</summary>
        public int PruneLedger(string cutoff, int limit)
        {
            _prune[0].Value = cutoff;
            _prune[1].Value = limit;
            return _pruneBatches.ExecuteNonQuery();
        }

        /// <summary>The bytes of the file's pages in use (the free ones, waiting to be reused or given back, not counted).</summary>
        public long UsedBytes() => (Long("PRAGMA page_count") - Long("PRAGMA freelist_count")) * Long("PRAGMA page_size");

        /// <summary>
        /// Deletes up to <paramref name="limit"/> of the oldest rows of whichever table holds the oldest (rows are
        /// stored in the order they were received, so the lowest ids are the oldest).
        /// </summary>
        public int DeleteOldest(int limit)
        {
            var message = Text("SELECT received_at FROM messages ORDER BY id LIMIT 1");
            var reject = Text("SELECT received_at FROM rejects ORDER BY id LIMIT 1");
            var table = (message, reject) switch
            {
                (null, null) => null,
                (null, _) => "rejects",
                (_, null) => "messages",
                _ => string.CompareOrdinal(reject, message) < 0 ? "rejects" : "messages",
            };
            if (table is null)
            {
                return 0;
            }

            using var command = _connection.CreateCommand();
            command.CommandText = $"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id LIMIT $limit)";
            command.Parameters.AddWithValue("$limit", limit);
            return command.ExecuteNonQuery();
        }

        /// <summary>When the oldest message kept was received.</summary>
        public string? OldestKept() => Text("SELECT received_at FROM messages ORDER BY id LIMIT 1");

        /// <summary>Gives the free pages back to the filesystem: the file shrinks by them.</summary>
        public void GiveBackFreePages()
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "PRAGMA incremental_vacuum";
            command.ExecuteNonQuery();
        }

        private long Long(string sql)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = sql;
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        private string? Text(string sql)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = sql;
            return command.ExecuteScalar() as string;
        }

        private static string Expire(string table) =>
            $"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE received_at < $cutoff LIMIT $limit)";

        public void Write(Batch batch, CancellationToken cancellationToken)
        {
            // A forced stop must not wait out a busy timeout: interrupting makes the running statement fail at once.
            using var interrupt = cancellationToken.Register(static handle => raw.sqlite3_interrupt((sqlite3)handle!), _connection.Handle);
            using var transaction = _connection.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: take the write lock now
            _reject.Transaction = transaction;
            _findBatch.Transaction = transaction;
            _insertBatch.Transaction = transaction;
            if (batch.Id != Guid.Empty)
            {
                var id = batch.Id.ToString("N");
                _find[0].Value = id;
                if (Convert.ToInt64(_findBatch.ExecuteScalar(), CultureInfo.InvariantCulture) > 0)
                {
                    return; // an earlier attempt committed it: storing it again would double it
                }

                _insert[0].Value = id;
                _insert[1].Value = FormatTime(_time.GetUtcNow());
                _insertBatch.ExecuteNonQuery();
            }

            var rows = 0;
            foreach (var m in batch.Messages)
            {
                if (++rows % CancellationCheckInterval == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                _message.Insert(m);
            }

            foreach (var r in batch.Rejects)
            {
                _r[0].Value = FormatTime(r.ReceivedAt);
                _r[1].Value = r.Transport.ToName();
                _r[2].Value = r.Peer;
                _r[3].Value = r.Reason.ToName();
                _r[4].Value = Nullable(r.Detail);
                _r[5].Value = r.Raw;
                _r[6].Value = Nullable(r.Client);
                _reject.ExecuteNonQuery();
            }

            cancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
        }

        /// <summary>
        /// Moves the write-ahead log into the file it belongs to and empties it. Its name stays at the path after the
        /// file was replaced there, and a connection to the new file would otherwise read the old file's pages from it.
        /// </summary>
        public void EmptyWriteAheadLog()
        {
            try
            {
                using var command = _connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
                command.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
                // Nothing more can be done for the old file; the batch is written again into the new one regardless.
            }
        }

        public void Dispose()
        {
            _message.Dispose();
            _reject.Dispose();
            _findBatch.Dispose();
            _insertBatch.Dispose();
            _expireMessages.Dispose();
            _expireRejects.Dispose();
            _pruneBatches.Dispose();
            _connection.Dispose();
        }

        private static (SqliteCommand, SqliteParameter[]) Prepare(SqliteConnection connection, string sql, params string[] names)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            var parameters = names.Select(name => command.Parameters.Add(new SqliteParameter { ParameterName = name })).ToArray();
            command.Prepare();
            return (command, parameters);
        }
    }
}
