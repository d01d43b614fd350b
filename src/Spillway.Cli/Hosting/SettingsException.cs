namespace Spillway.Cli.Hosting;

/// <summary>A setting is missing or wrong; the message names the flag and the configuration key.</summary>
internal sealed class SettingsException(string message) : Exception(message);
