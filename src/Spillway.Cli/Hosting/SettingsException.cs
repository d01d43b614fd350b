namespace Spillway.Cli.Hosting;

/// <summary>Settings are missing or wrong; each problem names the flag, the configuration key and the variable.</summary>
internal sealed class SettingsException(IReadOnlyList<string> problems) : Exception(string.Join(Environment.NewLine, problems))
{
    /// <summary>Every problem found, one a line in <see cref="Exception.Message"/>.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}
