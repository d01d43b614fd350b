namespace Spillway.Pipeline;

/// <summary>What a <see cref="BatchWriter"/> is doing; shown in health and logs.</summary>
public enum WriterState
{
    /// <summary>Not started yet.</summary>
    Starting,

    /// <summary>Waiting for items.</summary>
    Idle,

    /// <summary>Handing a batch to the sink.</summary>
    Writing,

    /// <summary>The last write failed; waiting to try again.</summary>
    Retrying,

    /// <summary>The buffer is drained and complete, or the writer was aborted.</summary>
    Stopped,
}
