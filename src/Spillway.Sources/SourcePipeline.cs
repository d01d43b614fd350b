using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway;

/// <summary>What every source hands its input to: the decoder, and through a <see cref="SourceWriter"/> the buffer.</summary>
public sealed class SourcePipeline
{
    private readonly IngestStats _stats;

    /// <summary>Creates the pipeline the sources share.</summary>
    public SourcePipeline(IIngestBuffer buffer, FrameDecoder decoder, IngestStats stats, BadInputLog badInput, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(badInput);
        ArgumentNullException.ThrowIfNull(time);
        Buffer = buffer;
        Decoder = decoder;
        _stats = stats;
        BadInput = badInput;
        Time = time;
    }

    /// <summary>The buffer.</summary>
    public IIngestBuffer Buffer { get; }

    /// <summary>Turns frames into items.</summary>
    public FrameDecoder Decoder { get; }

    /// <summary>Logs bad and dropped input once per reason per interval.</summary>
    public BadInputLog BadInput { get; }

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>A writer into the buffer under a source's full policy.</summary>
    public SourceWriter Writer(FullPolicy whenFull, Transport transport) => new(Buffer, _stats, BadInput, whenFull, transport);
}
