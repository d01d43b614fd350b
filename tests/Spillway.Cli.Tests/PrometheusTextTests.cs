using Spillway.Cli.Status;

namespace Spillway.Cli.Tests;

public sealed class PrometheusTextTests
{
    [Fact]
    public void Samples_are_read_with_their_labels_and_comments_are_skipped()
    {
        var samples = PrometheusText.Parse("""
            # HELP spillway_messages_received_total Messages accepted
            # TYPE spillway_messages_received_total counter
            spillway_messages_received_total{otel_scope_name="Spillway",source="tcp"} 5001 1732500000000
            spillway_messages_received_total{source="udp"} 7

            spillway_buffer_messages 0
            spillway_batch_size_bucket{le="+Inf"} 3
            odd{path="a \"quoted\" \\ back\nslash",empty=""} 1.5e3
            """);

        Assert.Equal(5, samples.Count);
        Assert.Equal(new Dictionary<string, string> { ["otel_scope_name"] = "Spillway", ["source"] = "tcp" }, samples[0].Labels);
        Assert.Equal(5008, samples.Sum("spillway_messages_received_total"));
        Assert.Equal(7, samples.Sum("spillway_messages_received_total", l => l["source"] == "udp"));
        Assert.Equal(0, samples.Sum("spillway_buffer_messages"));
        Assert.Equal("+Inf", samples[3].Labels["le"]);
        Assert.Equal("a \"quoted\" \\ back\nslash", samples[4].Labels["path"]);
        Assert.Equal("", samples[4].Labels["empty"]);
        Assert.Equal(1500, samples[4].Value);
        Assert.Equal(0, samples.Sum("not_there"));
    }

    [Fact]
    public void Special_values_are_read()
    {
        var samples = PrometheusText.Parse("a +Inf\nb -Inf\nc NaN\n");
        Assert.Equal(double.PositiveInfinity, samples[0].Value);
        Assert.Equal(double.NegativeInfinity, samples[1].Value);
        Assert.True(double.IsNaN(samples[2].Value));
    }

    [Theory]
    [InlineData("just_a_name")]
    [InlineData("name{label=\"unterminated} 1")]
    [InlineData("name{label=unquoted} 1")]
    [InlineData("name twelve")]
    [InlineData("<html>")]
    public void A_line_that_is_not_a_sample_is_refused_naming_it(string line)
    {
        var error = Assert.Throws<FormatException>(() => PrometheusText.Parse(line));
        Assert.Contains(line, error.Message, StringComparison.Ordinal);
    }
}
