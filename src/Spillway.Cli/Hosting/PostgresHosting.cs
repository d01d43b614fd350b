using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Spillway.Checks;
using Spillway.Sinks;
using Spillway.Sinks.PostgreSql;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Everything serve does with Npgsql, apart, so that a serve on SQLite never loads it: the JIT loads an assembly when
/// it compiles a method that names one of its types, and these methods are compiled only when PostgreSQL is configured
/// (about 2 MiB of resident memory: docs/performance.md, "Memory").
/// </summary>
internal static class PostgresHosting
{
    /// <summary>Throws <see cref="ArgumentException"/> when Npgsql refuses the connection string.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Validate(string connectionString) => _ = new NpgsqlConnectionStringBuilder(connectionString);

    /// <summary>Whether the connection string holds a password (one that does not parse holds none worth warning of).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool HoldsPassword(string connectionString)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString).Password is { Length: > 0 };
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The options and the one data source every PostgreSQL writer shares, logging through the host.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void AddDataSource(IServiceCollection services, PostgresSinkOptions postgres)
    {
        services.AddSingleton(postgres);
        services.AddSingleton(sp => new NpgsqlDataSourceBuilder(postgres.ConnectionString)
            .UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>())
            .Build());
    }

    /// <summary>A writer's sink, on the shared data source.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ISink CreateSink(IServiceProvider services) => ActivatorUtilities.CreateInstance<PostgresSink>(services);

    /// <summary>The start-up check of the database, on a data source of its own.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static async Task<CheckReport> CheckAsync(PostgresSinkOptions postgres, CancellationToken cancellationToken)
    {
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        return await PostgresCheck.CheckAsync(dataSource, postgres, cancellationToken);
    }
}
