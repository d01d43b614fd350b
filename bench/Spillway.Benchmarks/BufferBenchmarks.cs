using BenchmarkDotNet.Attributes;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Benchmarks;

/// <summary>Handing messages from one producer to one reader through the IngestBuffer, committing every 1,000.</summary>
[MemoryDiagnoser]
public class BufferBenchmarks
{
    private const int Items = 100_000;
    private Message[] _messages = [];

    [Params(1_000, 100_000)]
    public int MaxMessages { get; set; }

    [GlobalSetup]
    public void Setup() => _messages = [.. Enumerable.Range(0, Items)
        .Select(i => new Message(DateTimeOffset.UnixEpoch, Transport.Tcp, "127.0.0.1:1", "message", 100))];

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task HandOff()
    {
        var buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = MaxMessages }, new IngestStats());
        var producer = Task.Run(async () =>
        {
            foreach (var message in _messages)
            {
                await buffer.WriteAsync(message);
            }

            buffer.Complete();
        });

        var taken = 0;
        long bytes = 0;
        while (await buffer.Reader.WaitToReadAsync())
        {
            while (buffer.Reader.TryRead(out var item))
            {
                taken++;
                bytes += item.Size;
                if (taken == 1_000)
                {
                    buffer.Commit(taken, bytes);
                    (taken, bytes) = (0, 0);
                }
            }

            buffer.Commit(taken, bytes);
            (taken, bytes) = (0, 0);
        }

        await producer;
    }
}
