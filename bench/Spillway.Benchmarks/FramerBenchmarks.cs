using System.Buffers;
using BenchmarkDotNet.Attributes;
using Spillway.Framing;

namespace Spillway.Benchmarks;

/// <summary>Cutting a stream into frames: the cost per frame, LF-delimited and octet-counted, in 16 KiB segments.</summary>
[MemoryDiagnoser]
public class FramerBenchmarks
{
    private const int Frames = 10_000;
    private ReadOnlySequence<byte> _stream;

    [Params(false, true)]
    public bool OctetCounted { get; set; }

    [GlobalSetup]
    public void Setup() => _stream = Streams.Segmented(Streams.Lines(Frames, OctetCounted), 16 * 1024);

    [Benchmark(OperationsPerInvoke = Frames)]
    public int Frame()
    {
        var framer = new Framer(64 * 1024);
        var buffer = _stream;
        var count = 0;
        while (framer.TryRead(ref buffer, isFinal: true, out _))
        {
            count++;
        }

        return count;
    }
}
