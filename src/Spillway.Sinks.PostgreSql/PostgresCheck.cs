using System.Net.Sockets;
using Npgsql;
using Spillway.Checks;

namespace Spillway.Sinks.PostgreSql;

/// <summary>
/// Whether the PostgreSQL sink can open and write, found without creating or changing anything: the server is reached
/// and lets the user in, the user may create tables in its schema (the sink's <c>CREATE TABLE IF NOT EXISTS</c> runs at
/// every start and needs it even when the tables exist), and on each table that exists holds the rights the sink uses.
/// </summary>
public static class PostgresCheck
{
    /// <summary>The rights the sink uses on each of its tables: COPY needs INSERT; the ledger is read and pruned.</summary>
    private static readonly (string Table, string[] Rights)[] Needed =
    [
        ("messages", ["INSERT"]),
        ("rejects", ["INSERT"]),
        ("batches", ["SELECT", "INSERT", "DELETE"]),
    ];

    /// <summary>Connects once through <paramref name="dataSource"/> and checks the schema and the rights.</summary>
    public static async Task<CheckReport> CheckAsync(NpgsqlDataSource dataSource, PostgresSinkOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        var report = new CheckReport();
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        var where = $"PostgreSQL at {builder.Host}:{builder.Port} (database {builder.Database ?? builder.Username}, user {builder.Username})";
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            string? schema;
            bool mayCreate;
            await using (var command = new NpgsqlCommand(
                "SELECT current_schema(), coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)", connection))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                schema = reader.IsDBNull(0) ? null : reader.GetString(0);
                mayCreate = reader.GetBoolean(1);
            }

            if (schema is null)
            {
                report.Problem($"{where}: no schema to create the tables in (the search_path names none that exists)");
                return report;
            }

            if (!mayCreate)
            {
                report.Problem($"{where}: the user may not create tables in schema {schema}: GRANT CREATE ON SCHEMA {schema} TO {builder.Username}");
            }

            var existing = 0;
            foreach (var (table, needed) in Needed)
            {
                // The retention deletes rows (in a table without partitions, and in the day its cutoff falls in).
                var rights = options.Retention > TimeSpan.Zero && table != "batches" ? [.. needed, "DELETE"] : needed;
                var name = options.TablePrefix + table;
                foreach (var right in rights)
                {
                    // The table's name is a parameter, never part of the SQL; to_regclass gives NULL for a table that does not exist.
                    await using var command = new NpgsqlCommand(
                        "SELECT to_regclass($1) IS NOT NULL, coalesce(has_table_privilege(to_regclass($1), $2), false)", connection);
                    command.Parameters.Add(new() { Value = $"\"{schema}\".\"{name}\"" });
                    command.Parameters.Add(new() { Value = right });
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    if (!reader.GetBoolean(0))
                    {
                        break; // created at the first start, with every right its owner needs
                    }

                    if (right == rights[0])
                    {
                        existing++;
                    }

                    if (!reader.GetBoolean(1))
                    {
                        report.Problem($"{where}: the user lacks {right} on table {schema}.{name}: GRANT {right} ON {schema}.{name} TO {builder.Username}");
                    }
                }
            }

            foreach (var table in new[] { "messages", "rejects" })
            {
                // Making a day's partition takes the owner of the partitioned table (or a member of its role).
                var name = options.TablePrefix + table;
                await using var command = new NpgsqlCommand(
                    "SELECT pg_has_role(c.relowner, 'MEMBER') FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind = 'p'", connection);
                command.Parameters.Add(new() { Value = $"\"{schema}\".\"{name}\"" });
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is false)
                {
                    report.Problem($"{where}: the user does not own table {schema}.{name}, and cannot make its day partitions: " +
                        $"ALTER TABLE {schema}.{name} OWNER TO {builder.Username}");
                }
            }

            if (report.Problems.Count == 0)
            {
                report.Fact($"{where}: server {connection.PostgreSqlVersion}, schema {schema}, " +
                    (existing == Needed.Length ? "tables present" : $"{Needed.Length - existing} of {Needed.Length} tables created at the first start"));
            }
        }
        catch (PostgresException ex)
        {
            report.Problem($"{where} refused: {ex.MessageText} (SQLSTATE {ex.SqlState})");
        }
        catch (NpgsqlException ex)
        {
            report.Problem($"cannot reach {where}: {(ex.InnerException is SocketException socket ? socket.Message : ex.Message)}");
        }

        return report;
    }
}
