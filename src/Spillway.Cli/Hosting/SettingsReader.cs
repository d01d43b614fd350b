using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Reads the settings of <see cref="SettingsTable"/> from three layers, each overriding the one before: the config
/// file, the <c>SPILLWAY__*</c> environment, the flags. A value that is wrong is a problem, collected with every other
/// one instead of thrown, and the setting takes its default so that reading goes on; where each value came from is
/// kept for <c>check-config</c> to show.
/// </summary>
internal sealed partial class SettingsReader(IConfiguration configuration, IReadOnlyDictionary<string, IReadOnlyList<string>> flags)
{
    /// <summary>The section of the config file that sets log levels, read by the logging library, not by serve.</summary>
    public const string LoggingSection = "Logging";

    private readonly List<string> _problems = [];
    private readonly HashSet<Setting> _failed = [];
    private readonly Dictionary<Setting, ResolvedSetting> _resolved = [];

    /// <summary>Every problem found so far, in the order found.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>Each setting read, with the value in force and where it came from, in the table's order.</summary>
    public IReadOnlyList<ResolvedSetting> Resolved => [.. SettingsTable.All.Where(_resolved.ContainsKey).Select(s => _resolved[s])];

    /// <summary>Whether the setting was given a value that was refused.</summary>
    public bool Failed(params ReadOnlySpan<Setting> settings)
    {
        foreach (var setting in settings)
        {
            if (_failed.Contains(setting))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Records a problem that is not one setting's malformed value, such as two settings that cannot work together.</summary>
    public void Problem(string message) => _problems.Add(message);

    /// <summary>Records a problem with the value of a setting, which is then taken as failed.</summary>
    public void Problem(Setting setting, string message)
    {
        _failed.Add(setting);
        _problems.Add(message);
    }

    /// <summary>Records every key of the file or environment that is no setting: a misspelt one would leave its setting at the default.</summary>
    public void CheckForUnknownKeys()
    {
        var known = SettingsTable.All.Select(s => s.Name).Append(LoggingSection).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var key in configuration.GetChildren().Select(c => c.Key).Where(k => !known.Contains(k)))
        {
            var where = OriginOf(key) switch
            {
                SettingOrigin.Environment => $"in the environment ({Setting.EnvironmentPrefix}{key.ToUpperInvariant()})",
                SettingOrigin.File => "in the config file",
                _ => "in the configuration",
            };
            var nearest = SettingsTable.All.MinBy(s => EditDistance(s.Name.ToUpperInvariant(), key.ToUpperInvariant()));
            var hint = nearest is not null && EditDistance(nearest.Name.ToUpperInvariant(), key.ToUpperInvariant()) <= 3
                ? $"did you mean {nearest.Name}?"
                : "the keys are the flags in PascalCase, such as MaxBufferMessages (docs/operations.md)";
            _problems.Add($"unknown setting '{key}' {where}: {hint}");
        }
    }

    /// <summary>Whether a value was given for the setting in any layer.</summary>
    public bool IsGiven(Setting setting) => RawList(setting) is { Count: > 0 };

    /// <summary>The setting's value, or its default when none is given or the one given is refused.</summary>
    public T Get<T>(Setting<T> setting) => Get(setting, setting.Default);

    /// <summary>The setting's value, or <paramref name="fallback"/> (a default that depends on other settings).</summary>
    public T Get<T>(Setting<T> setting, T fallback)
    {
        var raw = RawList(setting);
        if (raw is not { Count: > 0 })
        {
            Resolve(setting, setting.Format(fallback), SettingOrigin.Default);
            return fallback;
        }

        var text = raw[^1];
        if (!setting.TryParseValue(text, out var value))
        {
            Problem(setting, Invalid(setting, text));
            return fallback;
        }

        Resolve(setting, setting.Format(value), OriginOf(setting.Name));
        return value;
    }

    /// <summary>A list setting's values; its default when none is given; empty for <c>none</c>.</summary>
    public IReadOnlyList<T> GetList<T>(Setting<T> setting)
    {
        var raw = RawList(setting);
        if (raw is not { Count: > 0 })
        {
            Resolve(setting, setting.DefaultText, SettingOrigin.Default);
            return setting.DefaultList;
        }

        var origin = OriginOf(setting.Name);
        if (raw is [var only] && string.Equals(only.Trim(), "none", StringComparison.OrdinalIgnoreCase))
        {
            Resolve(setting, "none", origin);
            return [];
        }

        var values = new List<T>(raw.Count);
        foreach (var text in raw)
        {
            if (!setting.TryParseValue(text, out var value))
            {
                Problem(setting, Invalid(setting, text));
                return setting.DefaultList;
            }

            values.Add(value);
        }

        Resolve(setting, string.Join(", ", values.Select(setting.Format)), origin);
        return values;
    }

    /// <summary>A connection string with its passwords replaced, fit to print.</summary>
    public static string Mask(string connectionString) => PasswordValue().Replace(connectionString, "${key}********");

    private void Resolve(Setting setting, string value, SettingOrigin origin) =>
        _resolved[setting] = new(setting, setting.Secret && value != "none" ? Mask(value) : value, origin);

    private static string Invalid(Setting setting, string value) =>
        $"invalid value '{(setting.Secret ? Mask(value) : value)}' for {setting.Describe()}: expected {setting.Expected}";

    /// <summary>The values given for a setting, from the layer that wins: a flag's values, or the configuration's.</summary>
    private IReadOnlyList<string>? RawList(Setting setting)
    {
        if (flags.TryGetValue(setting.Name, out var given) && given.Count > 0)
        {
            return given;
        }

        var section = configuration.GetSection(setting.Name);
        if (section.Value is { } single)
        {
            // A plain string where a list may be expected: "127.0.0.1:5514" or "a:1,b:2".
            return setting.IsList ? single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [single];
        }

        var items = section.GetChildren().ToList();
        if (items.Count == 0)
        {
            return null;
        }

        if (!setting.IsList || items.Any(i => i.Value is null))
        {
            Problem(setting, $"invalid value for {setting.Describe()}: expected {(setting.IsList ? "a list of " : "")}{setting.Expected}, not an object");
            return null;
        }

        return [.. items.Select(i => i.Value!)];
    }

    private SettingOrigin OriginOf(string key)
    {
        if (flags.ContainsKey(key))
        {
            return SettingOrigin.Flag;
        }

        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers.Reverse())
            {
                if (provider.TryGet(key, out _) || provider.GetChildKeys([], key).Any())
                {
                    return provider switch
                    {
                        EnvironmentVariablesConfigurationProvider => SettingOrigin.Environment,
                        FileConfigurationProvider => SettingOrigin.File,
                        _ => SettingOrigin.Configuration,
                    };
                }
            }
        }

        return SettingOrigin.Configuration;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }

    // A password's value, quoted or up to the next semicolon, after any key with "password" or "pwd" in it.
    [GeneratedRegex("""(?<key>(?:^|;)\s*[^;=]*(?:password|pwd)[^;=]*=\s*)(?:"[^"]*"|'[^']*'|[^;]*)""", RegexOptions.IgnoreCase)]
    private static partial Regex PasswordValue();
}
