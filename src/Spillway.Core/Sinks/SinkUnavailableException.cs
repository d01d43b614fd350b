namespace Spillway.Sinks;

/// <summary>A sink could not be opened: the database cannot be reached, created or written. Fatal at start.</summary>
public sealed class SinkUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SinkUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message that says what failed and why.</summary>
    public SinkUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    public SinkUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
