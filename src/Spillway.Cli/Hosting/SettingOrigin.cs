namespace Spillway.Cli.Hosting;

/// <summary>Which layer gave a setting its value.</summary>
internal enum SettingOrigin
{
    /// <summary>None did: the default.</summary>
    Default,

    /// <summary>The JSON file of <c>--config</c>.</summary>
    File,

    /// <summary>A <c>SPILLWAY__*</c> environment variable.</summary>
    Environment,

    /// <summary>A flag on the command line.</summary>
    Flag,

    /// <summary>Another configuration source (tests use one in memory).</summary>
    Configuration,
}
