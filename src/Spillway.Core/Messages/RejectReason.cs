namespace Spillway.Messages;

/// <summary>Why input was kept in the rejects table instead of the messages table.</summary>
public enum RejectReason
{
    /// <summary>The frame was longer than the maximum message size; its first bytes are kept.</summary>
    Oversize,

    /// <summary>The frame is not valid UTF-8; its bytes are kept as received.</summary>
    InvalidUtf8,

    /// <summary>The sender went away, or the service stopped, in the middle of a frame.</summary>
    Truncated,

    /// <summary>The database refused the row.</summary>
    RefusedByDb,

    /// <summary>
    /// A message a writer node took from the JetStream stream that is not a batch an edge published (its checksum or its
    /// layout is wrong); its bytes are kept, cut to the maximum message size, with the stream's sequence number.
    /// </summary>
    Undecodable,
}
