namespace Spillway.Spill;

/// <summary>What a failed file operation means for the log.</summary>
internal enum SpillFault
{
    /// <summary>No space (or quota) left: the budget is spent. Writes are refused until space returns; nothing is lost.</summary>
    Full,

    /// <summary>Out of file descriptors (or another passing shortage): retried with backoff; nothing is lost.</summary>
    Transient,

    /// <summary>The disk cannot be trusted with what it was given (an I/O error, a read-only filesystem, a failed fsync).</summary>
    Fatal,
}

/// <summary>Sorts the errors of file operations into those that pass and those that mean the log cannot go on.</summary>
internal static class SpillErrors
{
    // Linux errno values, as .NET puts them in IOException.HResult on Unix.
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ENOSPC = 28;
    public const int EIO = 5;
    public const int EDQUOT = 122;

    // Windows HRESULTs for the same conditions.
    private const int ErrorDiskFull = unchecked((int)0x80070070);
    private const int ErrorHandleDiskFull = unchecked((int)0x80070027);
    private const int ErrorTooManyOpenFiles = unchecked((int)0x80070004);

    public static SpillFault Classify(Exception exception) => exception switch
    {
        IOException { HResult: ENOSPC or EDQUOT or ErrorDiskFull or ErrorHandleDiskFull } => SpillFault.Full,
        IOException { HResult: EMFILE or ENFILE or EINTR or EAGAIN or ENOMEM or ErrorTooManyOpenFiles } => SpillFault.Transient,
        _ => SpillFault.Fatal,
    };

    /// <summary>True for a fault that passes: no space, or no descriptors.</summary>
    public static bool IsPassing(Exception exception) => Classify(exception) != SpillFault.Fatal;
}
