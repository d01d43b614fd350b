using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Testing;

namespace Spillway.Core.Tests;

public sealed class DiagnosticsTests
{
    [Fact]
    public void Every_event_id_is_used_once()
    {
        var ids = typeof(EventIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (Name: f.Name, Id: (int)f.GetRawConstantValue()!))
            .ToList();

        Assert.True(ids.Count > 10);
        var duplicates = ids.GroupBy(i => i.Id).Where(g => g.Count() > 1).Select(g => string.Join(", ", g.Select(i => i.Name)));
        Assert.Empty(duplicates);
    }

    [Fact]
    public void A_flood_of_bad_input_logs_one_line_per_reason_per_interval()
    {
        var time = new SignallingTimeProvider();
        var logger = new FakeLogger<BadInputLog>();
        var log = new BadInputLog(logger, time, TimeSpan.FromMinutes(1));

        for (var i = 0; i < 100_000; i++)
        {
            log.Report(RejectReason.InvalidUtf8, Transport.Tcp, "127.0.0.1:1", "bad");
            log.Report(RejectReason.Oversize, Transport.Tcp, "127.0.0.1:1", "big");
        }

        Assert.Equal(2, logger.Collector.Count);
        time.Advance(TimeSpan.FromMinutes(1));
        log.Report(RejectReason.InvalidUtf8, Transport.Tcp, "127.0.0.1:2", "bad");

        var records = logger.Collector.GetSnapshot();
        Assert.Equal(3, records.Count);
        Assert.All(records, r => Assert.Equal(LogLevel.Warning, r.Level));
        Assert.Contains("100000 more 'invalid-utf8' since", records[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_are_the_ones_stored_in_the_database()
    {
        Assert.Equal(["oversize", "invalid-utf8", "truncated", "refused-by-db", "undecodable"], RejectReasonNames.All.Select(r => r.ToName()));
        Assert.Equal(["tcp", "udp", "http", "tls", "https", "jetstream"], Enum.GetValues<Transport>().Select(t => t.ToName()));
        Assert.Equal(["tcp", "udp", "http", "tls", "https"], TransportNames.Listeners.Select(t => t.ToName()));
    }
}
