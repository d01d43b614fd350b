namespace Spillway.Cli.Tests;

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
    public async Task A_bad_flag_value_fails_serve_at_start_naming_the_flag()
    {
        var (code, output, error) = await RunAsync("serve", "--max-buffer-messages", "many");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.StartsWith("spillway serve: invalid value 'many' for --max-buffer-messages", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_config_file_fails_serve_at_start_naming_the_file()
    {
        var (code, _, error) = await RunAsync("serve", "--config", "/nonexistent/spillway.json");
        Assert.Equal(1, code);
        Assert.Contains("config file '/nonexistent/spillway.json' does not exist", error, StringComparison.Ordinal);
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
        Assert.Contains("spillway send: connection 0: Connection refused", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_list_names_every_scenario_and_a_scenario_runs_with_exit_0()
    {
        var (code, output, _) = await RunAsync("demo", "list");
        Assert.Equal(0, code);
        Assert.Equal(9, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("thread ", output, StringComparison.Ordinal);

        (code, output, _) = await RunAsync("demo", "race", "--step", "1ms");
        Assert.Equal(0, code);
        Assert.Contains("shown: 2 updates, final value 1", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_options_are_validated()
    {
        var (code, _, error) = await RunAsync("demo", "queue-pipeline", "--capacity", "0");
        Assert.NotEqual(0, code);
        Assert.Contains("--capacity must be at least 1", error, StringComparison.Ordinal);

        (code, _, error) = await RunAsync("demo", "lock", "--step", "fast");
        Assert.NotEqual(0, code);
        Assert.Contains("invalid value 'fast' for --step", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_lists_the_commands()
    {
        var (code, output, _) = await RunAsync("--help");
        Assert.Equal(0, code);
        Assert.Contains("serve", output, StringComparison.Ordinal);
        Assert.Contains("send", output, StringComparison.Ordinal);
        Assert.Contains("demo", output, StringComparison.Ordinal);
    }
}
