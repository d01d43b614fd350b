namespace Spillway.Syslog;

/// <summary>
/// Where the fields of a syslog frame are, as ranges into the frame's bytes (no copies): the caller turns the ones
/// it keeps into strings. A null range is a field that is absent or NILVALUE (<c>-</c>).
/// </summary>
public readonly record struct SyslogParts
{
    /// <summary>How the frame was read.</summary>
    public SyslogFormat Format { get; init; }

    /// <summary>PRI / 8, or null without a PRI.</summary>
    public int? Facility { get; init; }

    /// <summary>PRI % 8, or null without a PRI.</summary>
    public int? Severity { get; init; }

    /// <summary>The sender's timestamp, or null.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>HOSTNAME.</summary>
    public Range? Hostname { get; init; }

    /// <summary>APP-NAME (RFC 5424) or TAG (RFC 3164).</summary>
    public Range? AppName { get; init; }

    /// <summary>PROCID (RFC 5424) or the <c>[pid]</c> after the TAG (RFC 3164).</summary>
    public Range? ProcId { get; init; }

    /// <summary>MSGID (RFC 5424 only).</summary>
    public Range? MsgId { get; init; }

    /// <summary>STRUCTURED-DATA as received (RFC 5424 only).</summary>
    public Range? StructuredData { get; init; }

    /// <summary>MSG, without a leading BOM; for a raw frame, all of it.</summary>
    public Range Message { get; init; }
}
