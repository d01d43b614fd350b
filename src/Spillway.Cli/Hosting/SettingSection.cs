namespace Spillway.Cli.Hosting;

/// <summary>The sections of the configuration reference, in the order it lists them.</summary>
internal enum SettingSection
{
    /// <summary>Where and how the sources listen, and what they do when the buffer is full.</summary>
    Listeners,

    /// <summary>TLS on the listeners: certificates, mutual TLS.</summary>
    Tls,

    /// <summary>Who may use the HTTP listeners: API keys, their rate limits, the admin endpoints.</summary>
    ApiKeys,

    /// <summary>The database the writers store into.</summary>
    Database,

    /// <summary>The bounds of what is held between the sources and the database.</summary>
    Buffer,

    /// <summary>The crash-safe log on disk.</summary>
    SpillLog,

    /// <summary>Scale-out across nodes on NATS JetStream: the role, the servers, the stream and its consumer.</summary>
    ScaleOut,

    /// <summary>Stop, health and the log.</summary>
    Operations,
}
