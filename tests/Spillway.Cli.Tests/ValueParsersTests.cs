using Spillway.Cli.Hosting;

namespace Spillway.Cli.Tests;

public sealed class ValueParsersTests
{
    [Theory]
    [InlineData("65536", 65536L)]
    [InlineData("64KiB", 65536L)]
    [InlineData("64 kib", 65536L)]
    [InlineData("64MiB", 67108864L)]
    [InlineData("1GiB", 1073741824L)]
    [InlineData("10KB", 10_000L)]
    [InlineData("2MB", 2_000_000L)]
    [InlineData("100B", 100L)]
    [InlineData("1,024", 1024L)]
    public void Byte_sizes(string text, long expected)
    {
        Assert.True(ValueParsers.TryParseByteSize(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("KiB")]
    [InlineData("1.5MiB")]
    [InlineData("12 apples")]
    [InlineData("99999999999999999999GiB")]
    public void Bad_byte_sizes(string text) => Assert.False(ValueParsers.TryParseByteSize(text, out _));

    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("2s", 2000)]
    [InlineData("1.5m", 90_000)]
    [InlineData("0ms", 0)]
    [InlineData("00:00:00.250", 250)]
    public void Durations(string text, int milliseconds)
    {
        Assert.True(ValueParsers.TryParseDuration(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("100")]
    [InlineData("soon")]
    [InlineData("-5s")]
    public void Bad_durations(string text) => Assert.False(ValueParsers.TryParseDuration(text, out _));

    [Theory]
    [InlineData(65536L, "64KiB")]
    [InlineData(4L << 20, "4MiB")]
    [InlineData(1L << 30, "1GiB")]
    [InlineData(1536L, "1536")]
    [InlineData(1L, "1")]
    [InlineData(0L, "0")]
    public void A_size_is_written_in_the_largest_unit_that_divides_it_and_reads_back(long bytes, string text)
    {
        Assert.Equal(text, ValueParsers.FormatByteSize(bytes));
        Assert.True(ValueParsers.TryParseByteSize(text, out var back));
        Assert.Equal(bytes, back);
    }

    [Theory]
    [InlineData(100, "100ms")]
    [InlineData(5_000, "5s")]
    [InlineData(120_000, "2m")]
    [InlineData(90_000, "90s")]
    [InlineData(3_600_000, "1h")]
    [InlineData(2_592_000_000, "30d")]
    [InlineData(0, "0ms")]
    public void A_duration_is_written_in_the_largest_unit_that_divides_it_and_reads_back(long milliseconds, string text)
    {
        var duration = TimeSpan.FromMilliseconds(milliseconds);
        Assert.Equal(text, ValueParsers.FormatDuration(duration));
        Assert.True(ValueParsers.TryParseDuration(text, out var back));
        Assert.Equal(duration, back);
    }
}
