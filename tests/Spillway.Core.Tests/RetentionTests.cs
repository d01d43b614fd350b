using Microsoft.Extensions.Time.Testing;
using Spillway.Sinks;

namespace Spillway.Core.Tests;

public sealed class RetentionTests
{
    [Fact]
    public void Without_an_age_a_sweep_prunes_only_the_ledger()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero));
        var retention = new Retention(TimeSpan.Zero, time);
        Assert.Equal(new RetentionSweep(null, time.GetUtcNow() - Retention.LedgerAge), retention.Due());
        Assert.Null(retention.Due());
        time.Advance(TimeSpan.FromDays(365));
        Assert.Null(retention.Due()?.RowsBefore);
        Assert.StartsWith("every row is kept", retention.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sweep_is_due_at_once_then_once_an_interval_unless_one_came_back_full()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var retention = new Retention(TimeSpan.FromDays(30), time, chunkRows: 100);
        Assert.Equal(time.GetUtcNow().AddDays(-30), retention.Due()?.RowsBefore);
        retention.Swept(100, 0); // a full chunk: more may be left
        Assert.NotNull(retention.Due());
        retention.Swept(40, 99);
        Assert.Null(retention.Due());
        time.Advance(Retention.Interval - TimeSpan.FromMilliseconds(1));
        Assert.Null(retention.Due());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.NotNull(retention.Due());
        retention.Swept(0, 0, ledger: 100); // a full chunk of the ledger is behind too
        Assert.NotNull(retention.Due());
        Assert.Equal((239, 100), (retention.Deleted, retention.LedgerDeleted));
    }

    [Theory]
    [InlineData(30 * 24 * 3600, "30 days")]
    [InlineData(3600, "1 hour")]
    [InlineData(90, "90 seconds")]
    [InlineData(120, "2 minutes")]
    public void A_duration_is_said_in_its_largest_whole_unit(int seconds, string expected) =>
        Assert.Equal(expected, Retention.Format(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void A_negative_age_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Retention(TimeSpan.FromSeconds(-1), TimeProvider.System));
}
