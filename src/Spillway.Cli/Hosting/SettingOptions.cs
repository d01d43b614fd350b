using System.CommandLine;

namespace Spillway.Cli.Hosting;

/// <summary>
/// The flags of every setting in <see cref="SettingsTable"/>, and <c>--config</c>: made once per command, so
/// <c>serve</c> and <c>check-config</c> take the same command line.
/// </summary>
internal sealed class SettingOptions
{
    private readonly (Setting Setting, Option Option)[] _options = [.. SettingsTable.All.Select(s => (s, s.CreateOption()))];

    /// <summary>The JSON file of settings.</summary>
    public Option<FileInfo> Config { get; } = new("--config")
    {
        Description = "A JSON file of settings (keys as the flags in PascalCase, e.g. MaxBufferMessages); the environment and flags win over it",
        HelpName = "FILE",
    };

    /// <summary>What a command that takes the settings does with them: <c>serve</c> runs, <c>check-config</c> checks.</summary>
    public delegate Task<int> Run(
        FileInfo? configFile, Dictionary<string, IReadOnlyList<string>> flags, TextWriter output, TextWriter error, CancellationToken cancellationToken);

    /// <summary>A command that takes <c>--config</c> and every setting's flag, and hands what was given to <paramref name="run"/>.</summary>
    public static Command Command(string name, string description, Run run)
    {
        var options = new SettingOptions();
        var command = new Command(name, description);
        options.AddTo(command);
        command.SetAction(async (parseResult, cancellationToken) => await run(
            parseResult.GetValue(options.Config), options.Given(parseResult), parseResult.InvocationConfiguration.Output,
            parseResult.InvocationConfiguration.Error, cancellationToken));
        return command;
    }

    /// <summary>Adds <c>--config</c> and every setting's flag to the command.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Config);
        foreach (var (_, option) in _options)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The flags given, by setting name, as <see cref="SettingsReader"/> takes them.</summary>
    public Dictionary<string, IReadOnlyList<string>> Given(ParseResult parseResult)
    {
        var flags = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var (setting, option) in _options)
        {
            switch (option)
            {
                case Option<string[]> list when parseResult.GetValue(list) is { Length: > 0 } values:
                    flags[setting.Name] = values;
                    break;
                case Option<string> single when parseResult.GetValue(single) is { } value:
                    flags[setting.Name] = [value];
                    break;
                case Option<bool> on when parseResult.GetResult(on) is not null:
                    flags[setting.Name] = [parseResult.GetValue(on) ? "true" : "false"];
                    break;
            }
        }

        return flags;
    }
}
