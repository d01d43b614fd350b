namespace Spillway.Sinks;

/// <summary>
/// Which stored messages to read back (<c>spillway query</c>, <c>spillway tail</c>): every filter that is set must
/// hold. Values are passed to the database as parameters, never spliced into SQL.
/// </summary>
public sealed record MessageQuery
{
    /// <summary>The default and the most rows one read returns.</summary>
    public const int DefaultLimit = 100;

    /// <summary>Received at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Received before this time.</summary>
    public DateTimeOffset? Until { get; init; }

    /// <summary>The APP-NAME, exactly.</summary>
    public string? App { get; init; }

    /// <summary>The HOSTNAME, exactly.</summary>
    public string? Host { get; init; }

    /// <summary>Who sent it, exactly: an API key's name, or a client certificate's subject.</summary>
    public string? Client { get; init; }

    /// <summary>The source: tcp, udp, http, tls or https.</summary>
    public string? Source { get; init; }

    /// <summary>This severity or a more severe one (a lower number: 3, err, takes err, crit, alert and emerg).</summary>
    public int? Severity { get; init; }

    /// <summary>Text the message contains (case-sensitive).</summary>
    public string? Grep { get; init; }

    /// <summary>
    /// Null: the newest <see cref="Limit"/> matching rows. Set: the first <see cref="Limit"/> matching rows stored after
    /// the row of this id (what <c>tail</c> polls for). Either way returned oldest first.
    /// </summary>
    public long? AfterId { get; init; }

    /// <summary>The most rows returned.</summary>
    public int Limit { get; init; } = DefaultLimit;
}

/// <summary>A message as stored, with its row id; <see cref="Client"/> is null in a table of before the column.</summary>
public sealed record StoredRow(
    long Id, DateTimeOffset ReceivedAt, string Source, string Peer, int? Facility, int? Severity, DateTimeOffset? Timestamp, string? Hostname,
    string? AppName, string? ProcId, string? MsgId, string? StructuredData, string Message, string? Client = null);

/// <summary>Reads stored messages back; safe beside a <c>serve</c> writing the same database.</summary>
public interface IMessageReader : IAsyncDisposable
{
    /// <summary>The rows <paramref name="query"/> selects, oldest first.</summary>
    Task<IReadOnlyList<StoredRow>> ReadAsync(MessageQuery query, CancellationToken cancellationToken);
}
