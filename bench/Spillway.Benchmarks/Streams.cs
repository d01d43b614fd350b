using System.Buffers;
using System.Text;
using Spillway.Testing;

namespace Spillway.Benchmarks;

/// <summary>Test input shaped like real traffic: 100-byte syslog lines, cut into pipe-sized segments.</summary>
internal static class Streams
{
    public const string Line5424 = "<13>1 2026-11-25T02:14:18.343046+00:00 web-1 app 4242 ID42 - request served in 12 ms for /api/items?page=3";
    public const string Line3164 = "<38>Nov 25 02:14:18 web-1 sshd[4211]: Accepted publickey for deploy from 10.0.0.7 port 52144 ssh2";
    public const string Raw = "plain application log line without any syslog header, about one hundred bytes long for the test";

    public static byte[] Lines(int count, bool octetCounted)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            var line = i % 2 == 0 ? Line5424 : Line3164;
            builder.Append(octetCounted ? $"{Encoding.UTF8.GetByteCount(line)} {line}" : line + "\n");
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    /// <summary>The bytes as a sequence of segments of <paramref name="segmentSize"/>, as a pipe hands them over.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentSize) =>
        SegmentedSequence.Of(Enumerable.Range(0, (bytes.Length + segmentSize - 1) / segmentSize)
            .Select(i => (ReadOnlyMemory<byte>)bytes.AsMemory(i * segmentSize, Math.Min(segmentSize, bytes.Length - i * segmentSize))));
}
