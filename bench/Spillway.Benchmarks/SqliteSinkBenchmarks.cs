using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Sinks.Sqlite;

namespace Spillway.Benchmarks;

/// <summary>One batch written to SQLite (WAL, synchronous=NORMAL, one prepared INSERT): the cost per row.</summary>
[MemoryDiagnoser]
public class SqliteSinkBenchmarks
{
    private readonly Batch _batch = new();
    private string _directory = "";
    private SqliteSink _sink = null!;

    [Params(1_000, 10_000)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "spillway-bench", Guid.NewGuid().ToString("N"));
        _sink = new SqliteSink(new SqliteSinkOptions { Path = Path.Combine(_directory, "bench.db") }, NullLogger<SqliteSink>.Instance);
        await _sink.OpenAsync(CancellationToken.None);
        for (var i = 0; i < BatchSize; i++)
        {
            _batch.Add(new Message(DateTimeOffset.UnixEpoch, Transport.Tcp, "127.0.0.1:5514", Streams.Raw, 100)
            {
                Facility = 1, Severity = 5, Hostname = "web-1", AppName = "app",
            });
        }
    }

    [Benchmark]
    public ValueTask<int> WriteBatch()
    {
        _batch.Id = Guid.CreateVersion7(); // a new batch each time: the ledger would skip a repeated one
        return _sink.WriteAsync(_batch, CancellationToken.None);
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _sink.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
