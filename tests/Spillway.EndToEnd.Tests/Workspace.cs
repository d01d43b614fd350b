using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Spillway.EndToEnd.Tests;

/// <summary>A directory of the test's own, holding the database.</summary>
internal sealed class Workspace : IDisposable
{
    public Workspace()
    {
        Directory = Path.Combine(Path.GetTempPath(), "spillway-e2e", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string Database => Path.Combine(Directory, "spillway.db");

    public SqliteConnection Connect()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Database, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public long Count(string table)
    {
        if (!File.Exists(Database))
        {
            return 0;
        }

        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table}";
        try
        {
            return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 1)
        {
            return 0; // no such table yet
        }
    }

    public List<string> Messages() => Column("SELECT message FROM messages ORDER BY id");

    /// <summary>Every message row, its columns by name (NULL as null), in the order stored.</summary>
    public List<Dictionary<string, object?>> MessageRows()
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM messages ORDER BY id";
        using var reader = command.ExecuteReader();
        var rows = new List<Dictionary<string, object?>>();
        while (reader.Read())
        {
            rows.Add(Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => reader.IsDBNull(i) ? null : reader.GetValue(i)));
        }

        return rows;
    }

    public List<string> RejectReasons() => Column("SELECT reason FROM rejects ORDER BY id");

    private List<string> Column(string sql)
    {
        using var connection = Connect();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<string>();
        while (reader.Read())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the system's temp cleaner.
        }
    }
}
