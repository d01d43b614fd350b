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

    /// <summary>A write of the batch failed: waiting to try again, or trying again, until an attempt succeeds.</summary>
    Retrying,

    /// <summary>The buffer is drained and complete, or the writer was aborted.</summary>
    Stopped,
}
