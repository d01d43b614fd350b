using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Http;
using Spillway.Keys;
using Spillway.Pipeline;
using Spillway.Tcp;
using Spillway.Testing;
using Spillway.Tls;
using Spillway.Udp;

namespace Spillway.Sources.Tests;

/// <summary>A TCP, UDP or HTTP source on 127.0.0.1 with an OS-chosen port, feeding a real buffer and batch writer.</summary>
internal sealed class SourceHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _abort = new();
    private readonly Task _writer;
    private readonly SourcePipeline _pipeline;
    private TcpSource? _tcp;
    private UdpSource? _udp;
    private HttpSource? _http;
    private WebApplication? _web;
    private bool _stopped;

    private SourceHarness(int maxMessages, RecordingSink sink)
    {
        Sink = sink;
        Buffer = new IngestBuffer(new IngestBufferOptions { MaxMessages = maxMessages }, Stats);
        var badInput = new BadInputLog(NullLogger<BadInputLog>.Instance, TimeProvider.System);
        _pipeline = new SourcePipeline(Buffer, new FrameDecoder(Stats, badInput, TimeProvider.System), Stats, badInput, TimeProvider.System);
        var writer = new BatchWriter(Buffer, sink, new BatchWriterOptions { BatchSize = Math.Min(1000, maxMessages), Linger = TimeSpan.Zero },
            Stats, TimeProvider.System, NullLogger<BatchWriter>.Instance);
        _writer = writer.RunAsync(_abort.Token);
    }

    public IngestStats Stats { get; } = new();

    public IngestBuffer Buffer { get; }

    public RecordingSink Sink { get; }

    public IPEndPoint Endpoint { get; private set; } = null!;

    public static SourceHarness StartTcp(
        int maxMessages = 100_000, int maxMessageBytes = 64 * 1024, RecordingSink? sink = null, FullPolicy whenFull = FullPolicy.Wait)
    {
        var harness = new SourceHarness(maxMessages, sink ?? new RecordingSink());
        harness._tcp = new TcpSource(
            new TcpSourceOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)], MaxMessageBytes = maxMessageBytes, WhenFull = whenFull },
            harness._pipeline, NullLogger<TcpSource>.Instance);
        harness.Endpoint = harness._tcp.Start(harness._abort.Token)[0];
        return harness;
    }

    /// <summary>Syslog over TLS, with the credentials of <paramref name="tls"/>.</summary>
    public static SourceHarness StartTls(TlsCredentialStore tls, int maxMessages = 100_000)
    {
        var harness = new SourceHarness(maxMessages, new RecordingSink());
        harness._tcp = new TcpSource(new TcpSourceOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)] }, harness._pipeline,
            NullLogger<TcpSource>.Instance, tls);
        harness.Endpoint = harness._tcp.Start(harness._abort.Token)[0];
        return harness;
    }

    /// <summary>The TCP (or TLS) source's limit counters.</summary>
    public SourceLimitCounters TcpLimits => _tcp!.Limits;

    /// <summary>The HTTP source's limit counters.</summary>
    public SourceLimitCounters HttpLimits => _http!.Limits;

    public static SourceHarness StartUdp(
        int maxMessages = 100_000, int maxMessageBytes = 64 * 1024, RecordingSink? sink = null, FullPolicy whenFull = FullPolicy.Drop)
    {
        var harness = new SourceHarness(maxMessages, sink ?? new RecordingSink());
        harness._udp = new UdpSource(
            new UdpSourceOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)], MaxMessageBytes = maxMessageBytes, WhenFull = whenFull },
            harness._pipeline, NullLogger<UdpSource>.Instance);
        harness.Endpoint = harness._udp.Start(harness._abort.Token)[0];
        return harness;
    }

    public static async Task<SourceHarness> StartHttpAsync(
        int maxMessages = 100_000, long maxBodyBytes = 1 << 20, RecordingSink? sink = null, FullPolicy whenFull = FullPolicy.Drop,
        int maxMessageBytes = 64 * 1024, ApiKeyStore? keys = null, bool protectAdmin = false, IEnumerable<IHttpEndpoint>? endpoints = null)
    {
        var harness = new SourceHarness(maxMessages, sink ?? new RecordingSink());

        // On a web host, as serve runs it: the host starts first, and the source binds when it starts.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(new HttpSourceOptions
        {
            Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)], MaxBodyBytes = maxBodyBytes, WhenFull = whenFull, MaxMessageBytes = maxMessageBytes,
            ProtectAdmin = protectAdmin,
        });
        builder.Services.AddSingleton(harness._pipeline);
        builder.Services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        if (keys is not null)
        {
            builder.Services.AddSingleton(keys);
        }

        foreach (var endpoint in endpoints ?? [])
        {
            builder.Services.AddSingleton(endpoint);
        }

        builder.AddHttpSource();
        harness._web = builder.Build();
        harness._web.MapHttpSource();
        await harness._web.StartAsync(TestContext.Current.CancellationToken);
        harness._http = harness._web.Services.GetRequiredService<HttpSource>();
        harness.Endpoint = (await harness._http.StartAsync(harness._abort.Token))[0];
        return harness;
    }

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
        await Task.WhenAll(_tcp?.StopAsync() ?? Task.CompletedTask, _udp?.StopAsync() ?? Task.CompletedTask, _http?.StopAsync() ?? Task.CompletedTask)
            .WaitAsync(TestTimeouts.Wait);
        Buffer.Complete();
        await _writer.WaitAsync(TestTimeouts.Wait);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            await _abort.CancelAsync();
        }

        if (_tcp is not null)
        {
            await _tcp.DisposeAsync();
        }

        if (_udp is not null)
        {
            await _udp.DisposeAsync();
        }

        if (_http is not null)
        {
            await _http.DisposeAsync();
        }

        if (_web is not null)
        {
            await _web.StopAsync(CancellationToken.None);
            await _web.DisposeAsync();
        }

        _abort.Dispose();
    }
}
