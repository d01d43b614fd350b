using Spillway.Sinks;

namespace Spillway.Core.Tests;

public sealed class MessageIndexTests
{
    [Theory]
    [InlineData("none", MessageIndexes.None)]
    [InlineData("NONE", MessageIndexes.None)]
    [InlineData("time", MessageIndexes.Time)]
    [InlineData("severity, Host", MessageIndexes.Host | MessageIndexes.Severity)]
    [InlineData("time,host,app,severity", MessageIndexes.Time | MessageIndexes.Host | MessageIndexes.App | MessageIndexes.Severity)]
    [InlineData("host,host", MessageIndexes.Host)]
    public void A_list_of_index_names_parses_in_any_order_and_case(string text, MessageIndexes expected)
    {
        Assert.True(MessageIndex.TryParse(text, out var indexes));
        Assert.Equal(expected, indexes);
        Assert.True(MessageIndex.TryParse(MessageIndex.Format(indexes), out var again)); // and writes back as it reads
        Assert.Equal(expected, again);
    }

    [Theory]
    [InlineData("")]
    [InlineData("hostname")]
    [InlineData("none,host")]
    [InlineData("time,,host")]
    [InlineData("1")]
    public void Anything_else_is_refused(string text) => Assert.False(MessageIndex.TryParse(text, out _));

    [Fact]
    public void A_retention_keeps_the_time_index_whatever_was_chosen()
    {
        Assert.Equal(MessageIndexes.Time, MessageIndex.InForce(MessageIndexes.None, retention: true));
        Assert.Equal(MessageIndexes.Host, MessageIndex.InForce(MessageIndexes.Host, retention: false));
        Assert.Equal("time,host", MessageIndex.Format(MessageIndex.InForce(MessageIndexes.Host, retention: true)));
    }
}
