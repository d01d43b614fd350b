namespace Spillway.Cli.Hosting;

/// <summary>What a node does when it scales out on NATS JetStream (<c>--role</c>, with <c>--nats</c>).</summary>
internal enum NodeRole
{
    /// <summary>Both in one process: the listeners and the spill log publishing to the stream, and writers taking from it.</summary>
    All,

    /// <summary>The listeners and the spill log; its writers publish batches to the stream instead of storing them.</summary>
    Edge,

    /// <summary>No listeners but /metrics and /health: writers take batches from the stream's shared consumer into the database.</summary>
    Writer,
}
