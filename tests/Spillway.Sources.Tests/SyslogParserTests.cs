using System.Text;
using Spillway.Syslog;

namespace Spillway.Sources.Tests;

public sealed class SyslogParserTests
{
    private static readonly DateTimeOffset ReceivedAt = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    public sealed record Parsed(
        SyslogFormat Format, int? Facility, int? Severity, string? Timestamp, string? Hostname, string? AppName, string? ProcId, string? MsgId,
        string? StructuredData, string Message);

    private static Parsed Parse(string frame) => Parse(Encoding.UTF8.GetBytes(frame));

    private static Parsed Parse(byte[] bytes)
    {
        var parts = SyslogParser.Parse(bytes, ReceivedAt);
        string? Text(Range? r) => r is { } range ? Encoding.UTF8.GetString(bytes[range]) : null;
        return new Parsed(parts.Format, parts.Facility, parts.Severity, parts.Timestamp?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            Text(parts.Hostname), Text(parts.AppName), Text(parts.ProcId), Text(parts.MsgId), Text(parts.StructuredData),
            Encoding.UTF8.GetString(bytes[parts.Message]));
    }

    public static TheoryData<string, Parsed> Rfc5424Examples => new()
    {
        // RFC 5424 section 6.5, examples 1 to 4 (the BOM of examples 1 and 3 as bytes below).
        {
            "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
            new(SyslogFormat.Rfc5424, 20, 5, "2003-08-24T05:14:15.0000030-07:00", "192.0.2.1", "myproc", "8710", null, null,
                "%% It's time to make the do-nuts.")
        },
        {
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
            new(SyslogFormat.Rfc5424, 20, 5, "2003-10-11T22:14:15.0030000+00:00", "mymachine.example.com", "evntslog", null, "ID47",
                "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]", "")
        },
        // util-linux logger --rfc5424 (also what logger --tcp sends by default), captured.
        {
            "<13>1 2026-11-25T02:14:18.343046+00:00 vm root - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] from logger",
            new(SyslogFormat.Rfc5424, 1, 5, "2026-11-25T02:14:18.3430460+00:00", "vm", "root", null, null,
                "[timeQuality tzKnown=\"1\" isSynced=\"0\"]", "from logger")
        },
        // Escapes in structured data: \" and \] inside a value do not end it.
        {
            "<14>1 - host app 12 ID [a@1 x=\"q\\\"]\\\\\"] msg",
            new(SyslogFormat.Rfc5424, 1, 6, null, "host", "app", "12", "ID", "[a@1 x=\"q\\\"]\\\\\"]", "msg")
        },
        { "<0>1 - - - - - -", new(SyslogFormat.Rfc5424, 0, 0, null, null, null, null, null, null, "") },
    };

    public static TheoryData<string, Parsed> Rfc3164Examples => new()
    {
        // RFC 3164 section 5.4, examples 1 and 2.
        {
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
            new(SyslogFormat.Rfc3164, 4, 2, "2026-10-11T22:14:15.0000000+00:00", "mymachine", "su", null, null, null,
                "'su root' failed for lonvick on /dev/pts/8")
        },
        {
            "<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
            new(SyslogFormat.Rfc3164, 1, 5, "2026-02-05T17:32:18.0000000+00:00", "10.0.0.99", null, null, null, null, "Use the BFG!")
        },
        // util-linux logger --rfc3164, captured.
        {
            "<13>Nov 25 02:14:18 vm root: from logger",
            new(SyslogFormat.Rfc3164, 1, 5, "2026-11-25T02:14:18.0000000+00:00", "vm", "root", null, null, null, "from logger")
        },
        // A TAG with a PID, as sshd and cron send.
        {
            "<38>Nov 25 02:14:18 web-1 sshd[4211]: Accepted publickey for deploy",
            new(SyslogFormat.Rfc3164, 4, 6, "2026-11-25T02:14:18.0000000+00:00", "web-1", "sshd", "4211", null, null,
                "Accepted publickey for deploy")
        },
        // No HOSTNAME: the TAG follows the timestamp.
        {
            "<13>Nov 25 02:14:18 app[7]: no hostname here",
            new(SyslogFormat.Rfc3164, 1, 5, "2026-11-25T02:14:18.0000000+00:00", null, "app", "7", null, null, "no hostname here")
        },
        // rsyslog's forwarding format: an RFC 3339 timestamp where 3164 has its own.
        {
            "<30>2026-11-25T02:14:18.123456+01:00 db-2 postgres[99]: checkpoint complete",
            new(SyslogFormat.Rfc3164, 3, 6, "2026-11-25T02:14:18.1234560+01:00", "db-2", "postgres", "99", null, null, "checkpoint complete")
        },
        // Python's logging.handlers.SysLogHandler: PRI and the message, no timestamp or hostname; with an ident, a TAG.
        { "<14>hello from python", new(SyslogFormat.Rfc3164, 1, 6, null, null, null, null, null, null, "hello from python") },
        { "<14>myapp: hello from python", new(SyslogFormat.Rfc3164, 1, 6, null, null, "myapp", null, null, null, "hello from python") },
        // A December message received in January belongs to the year before (received 2026-11-25 here: same year).
        {
            "<13>Dec 31 23:59:59 h t: m",
            new(SyslogFormat.Rfc3164, 1, 5, "2026-12-31T23:59:59.0000000+00:00", "h", "t", null, null, null, "m")
        },
        // No PRI, but a 3164 timestamp: read as 3164, facility and severity unknown.
        {
            "Nov 25 02:14:18 host cron[1]: job done",
            new(SyslogFormat.Rfc3164, null, null, "2026-11-25T02:14:18.0000000+00:00", "host", "cron", "1", null, null, "job done")
        },
    };

    public static TheoryData<string, Parsed> NotSyslog => new()
    {
        { "plain text line", new(SyslogFormat.Raw, null, null, null, null, null, null, null, null, "plain text line") },
        { "ERROR: disk full", new(SyslogFormat.Raw, null, null, null, null, null, null, null, null, "ERROR: disk full") },
        { "{\"json\": true}", new(SyslogFormat.Raw, null, null, null, null, null, null, null, null, "{\"json\": true}") },
        { "<999>too big a PRI", new(SyslogFormat.Raw, null, null, null, null, null, null, null, null, "<999>too big a PRI") },
        { "<13", new(SyslogFormat.Raw, null, null, null, null, null, null, null, null, "<13") },
        // A 5424 header that breaks off: read as 3164 after the PRI, so nothing is lost.
        {
            "<13>1 2026-13-45T99:00:00Z host app - - - msg",
            new(SyslogFormat.Rfc3164, 1, 5, null, null, null, null, null, null, "1 2026-13-45T99:00:00Z host app - - - msg")
        },
        {
            "<13>1 - host app - - [unterminated msg",
            new(SyslogFormat.Rfc3164, 1, 5, null, null, null, null, null, null, "1 - host app - - [unterminated msg")
        },
    };

    [Theory]
    [MemberData(nameof(Rfc5424Examples))]
    public void Rfc5424(string frame, Parsed expected) => Assert.Equal(expected, Parse(frame));

    [Theory]
    [MemberData(nameof(Rfc3164Examples))]
    public void Rfc3164_and_its_real_world_variants(string frame, Parsed expected) => Assert.Equal(expected, Parse(frame));

    [Theory]
    [MemberData(nameof(NotSyslog))]
    public void What_is_not_syslog_is_kept_whole(string frame, Parsed expected) => Assert.Equal(expected, Parse(frame));

    [Fact]
    public void A_BOM_before_an_rfc5424_message_is_dropped()
    {
        byte[] frame = [.. "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "u8, 0xEF, 0xBB, 0xBF, .. "'su root' failed"u8];
        var parsed = Parse(frame);
        Assert.Equal(SyslogFormat.Rfc5424, parsed.Format);
        Assert.Equal("su", parsed.AppName);
        Assert.Equal("ID47", parsed.MsgId);
        Assert.Equal("'su root' failed", parsed.Message);
    }

    [Fact]
    public void A_december_timestamp_received_in_january_is_from_the_year_before()
    {
        var january = new DateTimeOffset(2027, 1, 1, 0, 0, 5, TimeSpan.Zero);
        var parts = SyslogParser.Parse("<13>Dec 31 23:59:58 h t: m"u8, january);
        Assert.Equal(new DateTimeOffset(2026, 12, 31, 23, 59, 58, TimeSpan.Zero), parts.Timestamp);
    }

    [Fact]
    public void Random_and_mutated_input_never_throws_and_every_range_is_inside_the_frame()
    {
        var seeds = Rfc5424Examples.Select(r => r.Data.Item1).Concat(Rfc3164Examples.Select(r => r.Data.Item1))
            .Select(Encoding.UTF8.GetBytes).ToArray();
        var random = new Random(5424);
        var alphabet = "<>[]\"\\ -:0123456789TZ.+abcJanFebNovDec\0\n\xEF\xBB\xBF"u8.ToArray();
        for (var i = 0; i < 200_000; i++)
        {
            byte[] frame;
            if (i % 3 == 0)
            {
                frame = new byte[random.Next(0, 80)];
                for (var j = 0; j < frame.Length; j++)
                {
                    frame[j] = random.Next(4) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
                }
            }
            else
            {
                frame = (byte[])seeds[random.Next(seeds.Length)].Clone();
                for (var m = random.Next(1, 6); m > 0 && frame.Length > 0; m--)
                {
                    var at = random.Next(frame.Length);
                    switch (random.Next(3))
                    {
                        case 0:
                            frame[at] = alphabet[random.Next(alphabet.Length)];
                            break;
                        case 1:
                            frame = [.. frame[..at], .. frame[(at + 1)..]];
                            break;
                        default:
                            frame = frame[..at];
                            break;
                    }
                }
            }

            var parts = SyslogParser.Parse(frame, ReceivedAt);
            foreach (var range in new[] { parts.Hostname, parts.AppName, parts.ProcId, parts.MsgId, parts.StructuredData, parts.Message })
            {
                if (range is { } r)
                {
                    var (offset, length) = r.GetOffsetAndLength(frame.Length); // throws if the range is outside the frame
                    Assert.InRange(offset + length, 0, frame.Length);
                }
            }

            Assert.True(parts.Facility is null or >= 0 and <= 23);
            Assert.True(parts.Severity is null or >= 0 and <= 7);
        }
    }
}
