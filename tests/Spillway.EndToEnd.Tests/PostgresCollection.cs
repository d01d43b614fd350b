namespace Spillway.EndToEnd.Tests;

/// <summary>
/// The tests that use the PostgreSQL of ./test.sh. One of them stops the server for a few seconds: none of them may run
/// while it does, so the collection runs on its own, not beside the others.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PostgresCollection
{
    public const string Name = "PostgreSQL server";
}
