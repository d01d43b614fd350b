namespace Spillway.JetStream;

/// <summary>
/// Where the NATS servers are, how to reach them, and the stream and consumer the edges and writers share. The stream
/// and its consumer are created with these settings when missing; one that exists is used as it is (differences are
/// logged at start).
/// </summary>
public sealed record JetStreamOptions
{
    /// <summary>The default stream name.</summary>
    public const string DefaultStream = "SPILLWAY";

    /// <summary>The default subject the edges publish to, the stream's only subject.</summary>
    public const string DefaultSubject = "spillway.batches";

    /// <summary>The default name of the durable consumer every writer shares.</summary>
    public const string DefaultConsumer = "spillway-writers";

    /// <summary>The seed servers, as NATS URLs (<c>nats://host:4222</c>); the client learns the rest of the cluster from them.</summary>
    public required IReadOnlyList<string> Servers { get; init; }

    /// <summary>The stream's name. <value>The default is <c>SPILLWAY</c>.</value></summary>
    public string Stream { get; init; } = DefaultStream;

    /// <summary>The subject published to. <value>The default is <c>spillway.batches</c>.</value></summary>
    public string Subject { get; init; } = DefaultSubject;

    /// <summary>The durable pull consumer's name. <value>The default is <c>spillway-writers</c>.</value></summary>
    public string Consumer { get; init; } = DefaultConsumer;

    /// <summary>
    /// How many servers hold each message. A publish is acknowledged once a majority has it (in memory: nats-server syncs
    /// its files only every two minutes by default), so the stream's durability is its replicas. <value>The default is 3.</value>
    /// </summary>
    public int Replicas { get; init; } = 3;

    /// <summary>
    /// The stream's byte limit. A full stream refuses publishes (discard new), which an edge takes as "full": its spill log
    /// absorbs, then pushes back. It must fit each server's JetStream store limit. <value>The default is 1 GiB.</value>
    /// </summary>
    public long MaxBytes { get; init; } = 1L << 30;

    /// <summary>
    /// How long the stream remembers a message id to drop a republished duplicate; past it the writers' database ledger
    /// still stores a batch once. <value>The default is 2 minutes (the server's own).</value>
    /// </summary>
    public TimeSpan DuplicateWindow { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long a writer may hold a message unacknowledged before it is delivered to another writer. A writer that is
    /// still storing a batch (a database outage) tells the server so every third of it, so only a writer that died lets it
    /// pass. <value>The default is 30 seconds.</value>
    /// </summary>
    public TimeSpan AckWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most messages (batches) handed to writers and not yet acknowledged, across every writer node.
    /// <value>The default is 64.</value>
    /// </summary>
    public int MaxAckPending { get; init; } = 64;

    /// <summary>
    /// The largest message an edge publishes; a batch larger is published in parts. 0 takes the server's
    /// <c>max_payload</c>. <value>The default is 0.</value>
    /// </summary>
    public int MaxMessageBytes { get; init; }

    /// <summary>The user name, with <see cref="Password"/>; null for none.</summary>
    public string? User { get; init; }

    /// <summary>The password of <see cref="User"/>; null for none.</summary>
    public string? Password { get; init; }

    /// <summary>A NATS credentials file (a user JWT and its NKey seed); null for none.</summary>
    public string? CredsFile { get; init; }

    /// <summary>The CA certificates (PEM) that the servers' TLS certificates must chain to; null for the system's.</summary>
    public string? CaFile { get; init; }

    /// <summary>The servers as one comma-separated list, as the NATS client takes them.</summary>
    public string Url => string.Join(',', Servers);

    /// <summary>Throws if a value cannot work.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message says which.</exception>
    public void Validate()
    {
        if (Servers.Count == 0)
        {
            throw new ArgumentException("At least one NATS server is needed.", nameof(Servers));
        }

        foreach (var server in Servers)
        {
            if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || uri.Scheme is not ("nats" or "tls") || uri.Host.Length == 0)
            {
                throw new ArgumentException($"'{server}' is not a NATS server URL such as nats://127.0.0.1:4222.", nameof(Servers));
            }
        }

        if (Stream.Length == 0 || Stream.IndexOfAny([' ', '.', '*', '>', '/', '\\']) >= 0)
        {
            throw new ArgumentException($"'{Stream}' is not a stream name: a name without spaces, dots, *, > or slashes.", nameof(Stream));
        }

        if (Consumer.Length == 0 || Consumer.IndexOfAny([' ', '.', '*', '>', '/', '\\']) >= 0)
        {
            throw new ArgumentException($"'{Consumer}' is not a consumer name: a name without spaces, dots, *, > or slashes.", nameof(Consumer));
        }

        if (Subject.Length == 0 || Subject.Contains(' ', StringComparison.Ordinal) || Subject.Contains('*', StringComparison.Ordinal)
            || Subject.Contains('>', StringComparison.Ordinal) || Subject.StartsWith('.') || Subject.EndsWith('.'))
        {
            throw new ArgumentException($"'{Subject}' is not a subject to publish to: dot-separated tokens, no wildcards.", nameof(Subject));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(Replicas, 1, nameof(Replicas));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Replicas, 5, nameof(Replicas));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBytes, 1L << 20, nameof(MaxBytes));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DuplicateWindow, TimeSpan.Zero, nameof(DuplicateWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(AckWait, TimeSpan.FromSeconds(1), nameof(AckWait));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAckPending, 1, nameof(MaxAckPending));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxMessageBytes, nameof(MaxMessageBytes));
        if (MaxMessageBytes is > 0 and < BatchPayload.MinMessageBytes)
        {
            throw new ArgumentException($"{nameof(MaxMessageBytes)} must be 0 (the server's) or at least {BatchPayload.MinMessageBytes}.",
                nameof(MaxMessageBytes));
        }

        if ((User is null) != (Password is null))
        {
            throw new ArgumentException("A NATS user and password go together: give both.", nameof(User));
        }

        if (User is not null && CredsFile is not null)
        {
            throw new ArgumentException("Give a NATS user and password or a credentials file, not both.", nameof(CredsFile));
        }
    }
}
