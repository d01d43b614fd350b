namespace Spillway.Cli.Hosting;

/// <summary>A setting's value in force, as an operator would write it (secrets masked), and where it came from.</summary>
internal sealed record ResolvedSetting(Setting Setting, string Value, SettingOrigin Origin);
