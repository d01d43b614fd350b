using Spillway.Diagnostics;
using Spillway.Pipeline;

namespace Spillway.Cli.Hosting;

/// <summary>
/// A node of both roles (<c>--role all</c>) runs a second pipeline beside the edge's: writers taking batches from the
/// stream's shared consumer into the database, with counts of their own (what they store is not what this node accepted).
/// </summary>
internal sealed class StreamWriters(IIngestBuffer buffer, WriterPool pool, IngestStats stats)
{
    public IIngestBuffer Buffer => buffer;

    public WriterPool Pool => pool;

    public IngestStats Stats => stats;

    /// <summary>One line for the end of a run.</summary>
    public string Summary() => $"stream writers: taken={stats.Replayed} stored={stats.Stored} rejected={stats.Rejected}";
}
