using Microsoft.Extensions.Configuration;
using Spillway.Checks;

namespace Spillway.Cli.Hosting;

/// <summary>
/// What <c>serve</c> and <c>check-config</c> both do before anything runs: read the config file, the environment and
/// the flags, validate every setting, and check the machine (<see cref="StartupChecks"/>), collecting every problem.
/// </summary>
internal static class ServeStartup
{
    public static async Task<ServePlan> PrepareAsync(
        FileInfo? configFile, IReadOnlyDictionary<string, IReadOnlyList<string>> flags, CancellationToken cancellationToken)
    {
        var report = new CheckReport();
        IConfigurationRoot configuration;
        try
        {
            configuration = BuildConfiguration(configFile);
        }
        catch (Exception ex) when (ex is InvalidDataException or FileNotFoundException or FormatException or IOException or UnauthorizedAccessException)
        {
            // The settings are not read at all from a file that cannot be: each would be a problem of its own, and none real.
            report.Problem(ex is UnauthorizedAccessException
                ? $"config file '{configFile?.FullName}' cannot be read by this user ({Environment.UserName})"
                : ex.Message);
            return new(null, null, null, report);
        }

        var (settings, reader) = ServeSettings.Read(configuration, flags);
        foreach (var problem in reader.Problems)
        {
            report.Problem(problem);
        }

        report.Add(await StartupChecks.RunAsync(settings, reader, configFile, cancellationToken));
        return new(configuration, settings, reader, report);
    }

    private static IConfigurationRoot BuildConfiguration(FileInfo? configFile)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            if (!configFile.Exists)
            {
                throw new FileNotFoundException($"config file '{configFile.FullName}' does not exist");
            }

            builder.AddJsonFile(configFile.FullName, optional: false, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(Setting.EnvironmentPrefix);
        return builder.Build();
    }
}
