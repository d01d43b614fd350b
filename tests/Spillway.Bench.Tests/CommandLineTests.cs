namespace Spillway.Bench.Tests;

public sealed class CommandLineTests
{
    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await Program.InvokeAsync(args, () => Stream.Null, output, error).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Send_refuses_a_size_too_small_for_the_sequence_number()
    {
        var (code, _, error) = await RunAsync("send", "-n", "1", "--size", "3");
        Assert.NotEqual(0, code);
        Assert.Contains("--size must be at least 19", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_reports_a_refused_connection_and_fails()
    {
        // Port 1 on loopback: nothing listens there on a test machine.
        var (code, _, error) = await RunAsync("send", "--tcp", "127.0.0.1:1", "-n", "1");
        Assert.Equal(1, code);
        Assert.Contains("spillway-bench send: connection 0: Connection refused", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--serve")]
    [InlineData("--versus-serve")]
    public async Task Bench_refuses_a_build_that_is_not_there_before_it_runs(string option)
    {
        var (code, _, error) = await RunAsync(option, "/nonexistent/spillway", "--spill", "on");
        Assert.NotEqual(0, code);
        Assert.Contains("/nonexistent/spillway", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal); // a reason, not a stack trace
    }

    [Fact]
    public async Task Bench_compares_another_build_beside_one_spill_setting_only()
    {
        var other = Path.Combine(AppContext.BaseDirectory, "spillway.dll"); // built and copied beside the tests
        var (code, _, error) = await RunAsync("--versus-serve", other);
        Assert.NotEqual(0, code);
        Assert.Contains("--versus-serve compares one build at a time: give --spill off or --spill on with it", error, StringComparison.Ordinal);
    }
}
