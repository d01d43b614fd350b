using System.IO.Hashing;
using BenchmarkDotNet.Attributes;
using Spillway.Messages;

namespace Spillway.Benchmarks;

/// <summary>
/// The records' checksum: the spill log's own CRC-32C (the processor's CRC32 instruction, 8 bytes at a time) against
/// System.IO.Hashing's CRC-32C parameter set, at the sizes of a syslog record, of a large one, and of a read window.
/// </summary>
public class Crc32CBenchmarks
{
    private byte[] _data = [];

    [Params(128, 4096, 1024 * 1024)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Bytes];
        new Random(1).NextBytes(_data);
        if (Crc32C.Compute(_data) != Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, _data))
        {
            throw new InvalidOperationException("the two CRC-32C implementations disagree");
        }
    }

    [Benchmark(Baseline = true)]
    public uint Spillway() => Crc32C.Compute(_data);

    [Benchmark]
    public uint SystemIOHashing() => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, _data);
}
