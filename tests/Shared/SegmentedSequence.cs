using System.Buffers;

namespace Spillway.Testing;

/// <summary>Builds a multi-segment sequence from chunks, as a pipe hands a stream over: one segment per chunk.</summary>
internal static class SegmentedSequence
{
    /// <summary>The chunks as one sequence; empty chunks are left out, none at all is the empty sequence.</summary>
    public static ReadOnlySequence<byte> Of(IEnumerable<ReadOnlyMemory<byte>> chunks)
    {
        Segment? first = null;
        Segment? last = null;
        foreach (var chunk in chunks)
        {
            if (!chunk.IsEmpty)
            {
                last = last is null ? first = new Segment(chunk, 0) : last.Append(chunk);
            }
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
