using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;
using Spillway.Syslog;

namespace Spillway.Benchmarks;

/// <summary>
/// Per message: the syslog parser alone (ranges, no allocation), and the whole decode a source does (UTF-8 check,
/// parse, the strings and the Message it stores).
/// </summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private static readonly DateTimeOffset At = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);
    private byte[] _frame = [];
    private FrameDecoder _decoder = null!;

    [Params("rfc5424", "rfc3164", "raw")]
    public string Format { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        _frame = Encoding.UTF8.GetBytes(Format switch { "rfc5424" => Streams.Line5424, "rfc3164" => Streams.Line3164, _ => Streams.Raw });
        var stats = new IngestStats();
        _decoder = new FrameDecoder(stats, new BadInputLog(NullLogger<BadInputLog>.Instance, TimeProvider.System), TimeProvider.System);
    }

    [Benchmark]
    public SyslogParts Parse() => SyslogParser.Parse(_frame, At);

    [Benchmark]
    public IngestItem? Decode() => _decoder.Decode(_frame, Transport.Tcp, "127.0.0.1:5514", 64 * 1024);
}
