namespace Spillway.Reloading;

/// <summary>Something read from files at start that SIGHUP reads again (the TLS credentials, the API keys).</summary>
public interface IReloadable
{
    /// <summary>
    /// Reads the files now. True when what is in force is what the files say; false when they did not load, which keeps
    /// what was in force.
    /// </summary>
    /// <param name="cause">Why, for the log: "SIGHUP", "a file changed".</param>
    bool Reload(string cause);
}
