using System.Net;

namespace Spillway;

/// <summary>A listener could not be bound: the address is in use, not on this host, or not permitted. Fatal at start.</summary>
public sealed class ListenFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ListenFailedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public ListenFailedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error underneath.</summary>
    public ListenFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for an endpoint.</summary>
    public ListenFailedException(string transport, IPEndPoint endpoint, Exception innerException)
        : base($"cannot listen on {transport} {endpoint}: {innerException?.Message}", innerException)
    {
    }
}
