namespace Spillway.Framing;

/// <summary>What the <see cref="Framer"/> found.</summary>
public enum FrameKind
{
    /// <summary>A whole frame within the size limit (possibly empty: a blank line).</summary>
    Message,

    /// <summary>A frame over the size limit: the payload is its first <c>MaxMessageBytes</c> bytes; the rest is skipped.</summary>
    Oversize,

    /// <summary>The stream ended inside a frame: the payload is what arrived of it, cut to the size limit.</summary>
    Truncated,
}
