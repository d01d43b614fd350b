using System.CommandLine;
using System.CommandLine.Parsing;
using Spillway.Cli.Hosting;
using Spillway.Demos;

namespace Spillway.Cli.Commands;

/// <summary><c>spillway demo NAME</c>: the article's scenarios, each in its .NET form; <c>spillway demo list</c> names them.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "Also print the debug lines (the article's logging.DEBUG)", Recursive = true,
        };
        var step = new Option<TimeSpan>("--step")
        {
            Description = "The scenarios' sleep (the article's time.sleep)", HelpName = "DURATION", Recursive = true,
            DefaultValueFactory = _ => TimeSpan.FromMilliseconds(100), CustomParser = result => ParseDuration(result, "--step"),
        };
        var seed = new Option<int?>("--seed")
        {
            Description = "Seed for the random messages, to repeat a run", HelpName = "N", Recursive = true,
        };

        var command = new Command("demo", "Replay the article's threading scenarios in C#: `spillway demo list` names them")
        {
            verbose, step, seed,
        };

        var list = new Command("list", "Name each scenario with one line of what it shows");
        list.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var width = DemoCatalog.All.Max(d => d.Name.Length);
            foreach (var demo in DemoCatalog.All)
            {
                output.WriteLine($"{demo.Name.PadRight(width)}  {demo.Summary}");
            }

            return 0;
        });
        command.Subcommands.Add(list);

        foreach (var demo in DemoCatalog.All)
        {
            var subcommand = new Command(demo.Name, demo.Summary);
            Option<int>? capacity = null;
            Option<TimeSpan>? stopAfter = null;
            if (demo is QueuePipelineDemo)
            {
                capacity = new Option<int>("--capacity") { Description = "The queue's capacity", HelpName = "N", DefaultValueFactory = _ => 10 };
                capacity.Validators.Add(r =>
                {
                    if (r.GetValueOrDefault<int>() < 1)
                    {
                        r.AddError("--capacity must be at least 1");
                    }
                });
                stopAfter = new Option<TimeSpan>("--stop-after")
                {
                    Description = "How long to run before the stop event is set", HelpName = "DURATION",
                    DefaultValueFactory = _ => TimeSpan.FromMilliseconds(100), CustomParser = r => ParseDuration(r, "--stop-after"),
                };
                subcommand.Options.Add(capacity);
                subcommand.Options.Add(stopAfter);
            }

            subcommand.SetAction(async (parseResult, cancellationToken) =>
            {
                var output = parseResult.InvocationConfiguration.Output;
                var context = new DemoContext(output, TimeProvider.System, parseResult.GetValue(verbose))
                {
                    Step = parseResult.GetValue(step),
                    Random = parseResult.GetValue(seed) is { } s ? new Random(s) : new Random(),
                    Capacity = capacity is null ? 10 : parseResult.GetValue(capacity),
                    StopAfter = stopAfter is null ? TimeSpan.FromMilliseconds(100) : parseResult.GetValue(stopAfter),
                };
                var outcome = await demo.RunAsync(context, cancellationToken);
                await output.WriteLineAsync($"{(outcome.AsExpected ? "shown" : "NOT SHOWN")}: {outcome.Conclusion}");
                return outcome.AsExpected ? 0 : 1;
            });
            command.Subcommands.Add(subcommand);
        }

        return command;
    }

    private static TimeSpan ParseDuration(ArgumentResult result, string name)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (ValueParsers.TryParseDuration(text, out var duration))
        {
            return duration;
        }

        result.AddError($"invalid value '{text}' for {name}: expected a duration with a unit such as 250ms or 2s");
        return default;
    }
}
