using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Pipeline;
using Spillway.Tcp;
using Spillway.Testing;

namespace Spillway.Sources.Tests;

/// <summary>A TCP source on 127.0.0.1 with an OS-chosen port, feeding a real buffer and batch writer.</summary>
internal sealed class TcpHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _writer;
    private bool _stopped;

    private TcpHarness(IngestBufferOptions bufferOptions, int maxMessageBytes, RecordingSink sink)
    {
        Sink = sink;
        Buffer = new IngestBuffer(bufferOptions, Stats);
        var time = TimeProvider.System;
        var decoder = new FrameDecoder(Stats, new BadInputLog(NullLogger<BadInputLog>.Instance, time), time);
        Source = new TcpSource(new TcpSourceOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)], MaxMessageBytes = maxMessageBytes },
            Buffer, decoder, time, NullLogger<TcpSource>.Instance);
        var writer = new BatchWriter(Buffer, sink, new BatchWriterOptions { BatchSize = Math.Min(1000, bufferOptions.MaxMessages), Linger = TimeSpan.Zero },
            Stats, time, NullLogger<BatchWriter>.Instance);
        _writer = writer.RunAsync(_abort.Token);
        Endpoint = Source.Start(_abort.Token)[0];
    }

    public IngestStats Stats { get; } = new();

    public IngestBuffer Buffer { get; }

    public RecordingSink Sink { get; }

    public TcpSource Source { get; }

    public IPEndPoint Endpoint { get; }

    public static TcpHarness Start(int maxMessages = 100_000, int maxMessageBytes = 64 * 1024, RecordingSink? sink = null) =>
        new(new IngestBufferOptions { MaxMessages = maxMessages }, maxMessageBytes, sink ?? new RecordingSink());

    public async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(Endpoint, TestContext.Current.CancellationToken).AsTask().WaitAsync(TestTimeouts.Wait);
        return socket;
    }

    /// <summary>Stops the source the way serve does, completes the buffer and waits for the writer to drain it.</summary>
    public async Task StopAsync()
    {
        _stopped = true;
        await Source.StopAsync().WaitAsync(TestTimeouts.Wait);
        Buffer.Complete();
        await _writer.WaitAsync(TestTimeouts.Wait);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            await _abort.CancelAsync();
            await Source.DisposeAsync();
        }

        _abort.Dispose();
    }
}
