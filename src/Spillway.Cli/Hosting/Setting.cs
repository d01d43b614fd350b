using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;

namespace Spillway.Cli.Hosting;

/// <summary>
/// One setting of <c>spillway serve</c>, declared once in <see cref="SettingsTable"/>: its name is the key of the
/// config file, and from it come the flag (<c>MaxBufferMessages</c> is <c>--max-buffer-messages</c>), the environment
/// variable (<c>SPILLWAY__MAXBUFFERMESSAGES</c>), the line of <c>serve --help</c>, the row of the configuration
/// reference in docs/operations.md, and the message that names it when its value is wrong.
/// </summary>
internal abstract class Setting
{
    /// <summary>The prefix of the environment variables that set <c>serve</c>'s settings.</summary>
    public const string EnvironmentPrefix = "SPILLWAY__";

    private protected Setting(string name, string valueName, string help, SettingSection section)
    {
        Name = name;
        ValueName = valueName;
        Help = help;
        Section = section;
        Flag = "--" + KebabCase(name);
    }

    /// <summary>The key in the config file, in PascalCase.</summary>
    public string Name { get; }

    /// <summary>The command-line flag, the name in kebab case.</summary>
    public string Flag { get; }

    /// <summary>The environment variable (a list's items are <c>SPILLWAY__NAME__0</c>, <c>__1</c>, ...).</summary>
    public string EnvironmentVariable => EnvironmentPrefix + Name.ToUpperInvariant() + (IsList ? "__0" : "");

    /// <summary>What the value is called in <c>--help</c>: <c>SIZE</c>, <c>HOST:PORT</c>, <c>wait|drop</c>.</summary>
    public string ValueName { get; }

    /// <summary>What the setting does, for <c>--help</c> and the docs alike.</summary>
    public string Help { get; }

    /// <summary>The section of the configuration reference that lists it.</summary>
    public SettingSection Section { get; }

    /// <summary>The default as the docs say it; for a default that depends on another setting, in words.</summary>
    public abstract string DefaultText { get; }

    /// <summary>What a valid value looks like, as the validation message says it.</summary>
    public abstract string Expected { get; }

    /// <summary>Whether a running <c>serve</c> takes a new value without a restart. None does yet.</summary>
    public bool Reloadable { get; init; }

    /// <summary>Whether the value may hold a secret, which <c>check-config</c> masks.</summary>
    public bool Secret { get; init; }

    /// <summary>Whether the setting takes several values (a repeatable flag, a JSON array).</summary>
    public virtual bool IsList => false;

    /// <summary>How errors name the setting, so the operator finds it whichever layer it came from.</summary>
    public string Describe() => $"{Flag} (config key {Name}, environment {EnvironmentVariable})";

    /// <summary>Whether the setting is on or off: its flag alone turns it on.</summary>
    public bool IsSwitch => this is Setting<bool>;

    /// <summary>The flag, with the help and the default.</summary>
    public Option CreateOption() => IsSwitch
        ? new Option<bool>(Flag) { Description = HelpLine, Arity = ArgumentArity.ZeroOrOne }
        : IsList
            ? new Option<string[]>(Flag) { Description = HelpLine, HelpName = ValueName }
            : new Option<string>(Flag) { Description = HelpLine, HelpName = ValueName };

    /// <summary>A whole number within bounds.</summary>
    public static Setting<long> Count(string name, string valueName, long @default, long min, long max, SettingSection section, string help,
        string? defaultText = null) =>
        new(name, valueName, @default, "a whole number " + Range(min, max, long.MaxValue, v => v.ToString(CultureInfo.InvariantCulture)),
            (string text, out long value) => ValueParsers.TryParseCount(text, out value) && value >= min && value <= max,
            v => v.ToString(CultureInfo.InvariantCulture), help, section, defaultText);

    /// <summary>A size in bytes within bounds, written with or without a unit.</summary>
    public static Setting<long> ByteSize(string name, long @default, long min, long max, SettingSection section, string help,
        string? defaultText = null) =>
        new(name, "SIZE", @default,
            "a size in bytes such as 65536, 64KiB or 64MiB, " + Range(min, max, long.MaxValue, ValueParsers.FormatByteSize),
            (string text, out long value) => ValueParsers.TryParseByteSize(text, out value) && value >= min && value <= max,
            ValueParsers.FormatByteSize, help, section, defaultText);

    /// <summary>A duration within bounds, written with a unit.</summary>
    public static Setting<TimeSpan> Duration(string name, TimeSpan @default, TimeSpan min, TimeSpan max, SettingSection section, string help) =>
        new(name, "DURATION", @default,
            "a duration with a unit such as 250ms or 2s, " + Range(min, max, TimeSpan.MaxValue, ValueParsers.FormatDuration),
            (string text, out TimeSpan value) => ValueParsers.TryParseDuration(text, out value) && value >= min && value <= max,
            ValueParsers.FormatDuration, help, section);

    /// <summary>One of an enum's names, in any case (never its number).</summary>
    public static Setting<T> Choice<T>(string name, T @default, SettingSection section, string help)
        where T : struct, Enum
    {
        var names = Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
        return new(name, string.Join('|', names), @default, "one of " + string.Join(", ", names),
            (string text, out T value) =>
                Enum.TryParse(text, ignoreCase: true, out value) && Enum.IsDefined(value) && !char.IsAsciiDigit(text.TrimStart().FirstOrDefault()),
            v => v.ToString().ToLowerInvariant(), help, section);
    }

    /// <summary>Free text that may not be blank; an empty default is shown as "none".</summary>
    public static Setting<string> Text(string name, string valueName, string @default, SettingSection section, string help,
        string? defaultText = null, bool secret = false) =>
        new(name, valueName, @default, "a non-empty value",
            (string text, out string value) =>
            {
                value = text;
                return !string.IsNullOrWhiteSpace(text);
            },
            v => v.Length == 0 ? "none" : v, help, section, defaultText) { Secret = secret };

    /// <summary>On or off: the flag alone, or <c>true</c>, <c>false</c> (also yes, no, on, off) in the file and the environment.</summary>
    public static Setting<bool> Switch(string name, SettingSection section, string help) =>
        new(name, "", false, "true or false",
            (string text, out bool value) =>
            {
                value = text.Trim().ToLowerInvariant() is "true" or "yes" or "on" or "1";
                return value || text.Trim().ToLowerInvariant() is "false" or "no" or "off" or "0";
            },
            v => v ? "true" : "false", help, section);

    /// <summary>A list of addresses to listen on, none unless given.</summary>
    public static Setting<IPEndPoint> Endpoints(string name, SettingSection section, string help) =>
        new(name, "HOST:PORT", null!, "HOST:PORT, such as 127.0.0.1:6514, [::1]:6514 or *:6514, or none",
            ListenEndpoint.TryParse, e => e.ToString(), help, section, defaultText: "none", isList: true) { EmptyByDefault = true };

    /// <summary>A list of free-text values, none unless given.</summary>
    public static Setting<string> TextList(string name, string valueName, string expected, Func<string, bool> valid, SettingSection section,
        string help) =>
        new(name, valueName, "", expected,
            (string text, out string value) =>
            {
                value = text.Trim();
                return valid(value);
            },
            v => v, help, section, defaultText: "none", isList: true) { EmptyByDefault = true };

    /// <summary>A list of addresses to listen on; <c>none</c> alone makes it empty.</summary>
    public static Setting<IPEndPoint> Endpoints(string name, IPEndPoint @default, SettingSection section, string help) =>
        new(name, "HOST:PORT", @default, "HOST:PORT, such as 127.0.0.1:5514, [::1]:5514 or *:5514, or none",
            ListenEndpoint.TryParse, e => e.ToString(), help, section, isList: true);

    private static string Range<T>(T min, T max, T unbounded, Func<T, string> format)
        where T : IEquatable<T> =>
        max.Equals(unbounded) ? $"of at least {format(min)}" : $"from {format(min)} to {format(max)}";

    private string HelpLine => $"{Help} [default: {DefaultText}]";

    private static string KebabCase(string pascal)
    {
        var kebab = new StringBuilder(pascal.Length + 4);
        foreach (var c in pascal)
        {
            if (char.IsAsciiLetterUpper(c) && kebab.Length > 0)
            {
                kebab.Append('-');
            }

            kebab.Append(char.ToLowerInvariant(c));
        }

        return kebab.ToString();
    }
}

/// <summary>A setting whose values are of type <typeparamref name="T"/>.</summary>
internal sealed class Setting<T> : Setting
{
    private readonly TryParse _parse;
    private readonly Func<T, string> _format;
    private readonly string? _defaultText;

    internal Setting(
        string name, string valueName, T @default, string expected, TryParse parse, Func<T, string> format, string help, SettingSection section,
        string? defaultText = null, bool isList = false)
        : base(name, valueName, help, section)
    {
        Default = @default;
        Expected = expected;
        _parse = parse;
        _format = format;
        _defaultText = defaultText;
        IsList = isList;
    }

    /// <summary>Parses one value (of a list, one item); false when it is malformed or out of range.</summary>
    internal delegate bool TryParse(string text, out T value);

    /// <summary>The value when none is given (unless the table says the default depends on another setting).</summary>
    public T Default { get; }

    /// <summary>For a list: whether it is empty when not given, rather than <see cref="Default"/> alone.</summary>
    public bool EmptyByDefault { get; init; }

    /// <summary>A list's values when none is given.</summary>
    public IReadOnlyList<T> DefaultList => EmptyByDefault ? [] : [Default];

    /// <inheritdoc />
    public override string Expected { get; }

    /// <inheritdoc />
    public override bool IsList { get; }

    /// <inheritdoc />
    public override string DefaultText => _defaultText ?? _format(Default);

    /// <summary>Parses a value as given in a flag, the file or the environment.</summary>
    public bool TryParseValue(string text, out T value) => _parse(text, out value);

    /// <summary>The value as an operator would write it.</summary>
    public string Format(T value) => _format(value);
}

