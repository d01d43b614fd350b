namespace Spillway.Spill;

/// <summary>The spill directory cannot be opened: not creatable, not writable, or held by another process. Fatal at start.</summary>
public sealed class SpillUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SpillUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message that says what failed and why.</summary>
    public SpillUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    public SpillUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
