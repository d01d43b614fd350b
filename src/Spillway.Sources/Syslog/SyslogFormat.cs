namespace Spillway.Syslog;

/// <summary>How a frame was read.</summary>
public enum SyslogFormat
{
    /// <summary>Not syslog: the whole frame is the message, every syslog column is null.</summary>
    Raw,

    /// <summary>BSD syslog (RFC 3164) or one of its real-world variants.</summary>
    Rfc3164,

    /// <summary>Structured syslog (RFC 5424).</summary>
    Rfc5424,
}
