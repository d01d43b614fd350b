using System.Buffers;

namespace Spillway.Framing;

/// <summary>
/// One frame cut from a stream. <see cref="Payload"/> points into the reader's buffer and is valid only until the
/// reader advances past it: copy what you keep.
/// </summary>
/// <param name="Kind">Whole, oversize or truncated.</param>
/// <param name="Payload">The frame's bytes without framing (no length prefix, no LF, no CR before the LF).</param>
/// <param name="DeclaredLength">The length an octet-counted frame announced, or -1 for an LF-delimited one.</param>
public readonly record struct Frame(FrameKind Kind, ReadOnlySequence<byte> Payload, long DeclaredLength)
{
    /// <summary>True when the frame was octet-counted (RFC 6587 section 3.4.1).</summary>
    public bool IsOctetCounted => DeclaredLength >= 0;
}
