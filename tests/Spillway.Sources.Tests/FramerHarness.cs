using System.Buffers;
using Spillway.Framing;
using Spillway.Testing;

namespace Spillway.Sources.Tests;

/// <summary>
/// Feeds a stream to a <see cref="Framer"/> in chunks the way a pipe does: each new chunk is appended to what was
/// not consumed yet, the unconsumed bytes are presented as a multi-segment sequence (one segment per chunk), and
/// the framer is called until it needs more. The last call says the stream is final.
/// </summary>
public static class FramerHarness
{
    public sealed record Result(FrameKind Kind, string Payload, long DeclaredLength)
    {
        public override string ToString() => $"{Kind}({DeclaredLength}):{Payload}";
    }

    public static List<Result> Run(byte[] stream, IEnumerable<int> cuts, int maxMessageBytes)
    {
        var framer = new Framer(maxMessageBytes);
        var results = new List<Result>();
        var pending = new List<byte[]>();
        var bounds = cuts.Where(c => c > 0 && c < stream.Length).Distinct().Order().Prepend(0).Append(stream.Length).ToArray();
        for (var i = 1; i < bounds.Length; i++)
        {
            pending.Add(stream[bounds[i - 1]..bounds[i]]);
            Drain(framer, pending, isFinal: i == bounds.Length - 1, results);
        }

        if (stream.Length == 0)
        {
            Drain(framer, pending, isFinal: true, results);
        }

        return results;
    }

    public static List<Result> Run(string stream, IEnumerable<int> cuts, int maxMessageBytes) =>
        Run(Latin1(stream), cuts, maxMessageBytes);

    public static byte[] Latin1(string text) => System.Text.Encoding.Latin1.GetBytes(text);

    private static void Drain(Framer framer, List<byte[]> pending, bool isFinal, List<Result> results)
    {
        var sequence = SegmentedSequence.Of(pending.Select(c => (ReadOnlyMemory<byte>)c));
        var buffer = sequence;
        while (framer.TryRead(ref buffer, isFinal, out var frame))
        {
            results.Add(new Result(frame.Kind, System.Text.Encoding.Latin1.GetString(frame.Payload.ToArray()), frame.DeclaredLength));
        }

        // Drop what the framer consumed, keeping the chunk structure of the rest.
        var consumed = sequence.Length - buffer.Length;
        while (consumed > 0 && pending.Count > 0)
        {
            if (pending[0].Length <= consumed)
            {
                consumed -= pending[0].Length;
                pending.RemoveAt(0);
            }
            else
            {
                pending[0] = pending[0][(int)consumed..];
                consumed = 0;
            }
        }
    }
}
