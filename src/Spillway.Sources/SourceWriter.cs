using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway;

/// <summary>
/// Hands a source's items to the buffer under the source's full policy: wait for room, or drop (counted, and logged
/// once per interval as <c>buffer-full</c>).
/// </summary>
public sealed class SourceWriter
{
    /// <summary>The reason under which dropped items are counted and logged.</summary>
    public const string BufferFull = "buffer-full";

    private readonly IIngestBuffer _buffer;
    private readonly IngestStats _stats;
    private readonly BadInputLog _log;
    private readonly FullPolicy _whenFull;
    private readonly Transport _transport;

    /// <summary>Creates a writer for one source.</summary>
    public SourceWriter(IIngestBuffer buffer, IngestStats stats, BadInputLog log, FullPolicy whenFull, Transport transport)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(log);
        _buffer = buffer;
        _stats = stats;
        _log = log;
        _whenFull = whenFull;
        _transport = transport;
    }

    /// <summary>Writes an item, waiting for room or dropping it as the policy says.</summary>
    /// <param name="item">The item.</param>
    /// <param name="peer">Its sender, for the log.</param>
    /// <param name="abort">Cancels a wait for room on a forced stop: the item is then not accepted.</param>
    public ValueTask WriteAsync(IngestItem item, string peer, CancellationToken abort)
    {
        if (_whenFull == FullPolicy.Wait)
        {
            return _buffer.WriteAsync(item, abort);
        }

        if (!_buffer.TryWrite(item))
        {
            _stats.OnDropped(item.Transport, item.Size);
            _log.Report(BufferFull, _transport, peer, $"the buffer is full and the {_transport.ToName()} source drops when full");
        }

        return ValueTask.CompletedTask;
    }
}
