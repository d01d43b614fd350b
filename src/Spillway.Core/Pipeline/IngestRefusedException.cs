namespace Spillway.Pipeline;

/// <summary>
/// Told to a <see cref="Receipt"/> whose items the buffer gave back after taking them: it could not keep them (the
/// spill log's disk was full, or the process out of file descriptors), rolled them back, and holds none of them. The
/// sender may send them all again later without doubling any.
/// </summary>
public sealed class IngestRefusedException : IOException
{
    /// <summary>Creates the exception.</summary>
    public IngestRefusedException()
    {
    }

    /// <summary>Creates the exception with the reason the items could not be kept.</summary>
    public IngestRefusedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the reason and the error behind it.</summary>
    public IngestRefusedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
