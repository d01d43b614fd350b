using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Udp;

/// <summary>
/// Listens for syslog over UDP: one datagram is one message (a trailing LF, CR or NUL is trimmed). A datagram that
/// finds the buffer full is dropped and counted (<c>buffer-full</c>), or, with <see cref="FullPolicy.Wait"/>, waits.
/// Stopping reads what is still arriving until the socket falls quiet, then returns.
/// </summary>
public sealed class UdpSource : SocketSource
{
    private const int MaxDatagram = 65_536;

    private readonly UdpSourceOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the source; <see cref="SocketSource.Start"/> binds it.</summary>
    public UdpSource(UdpSourceOptions options, SourcePipeline pipeline, ILogger<UdpSource> logger)
        : base(Transport.Udp, options?.Endpoints ?? throw new ArgumentNullException(nameof(options)), options.WhenFull, pipeline)
    {
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _options = options;
        _logger = logger;
    }

    /// <inheritdoc />
    protected override Socket Bind(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.ReceiveBufferSize = _options.ReceiveBufferBytes;
            socket.Bind(endpoint);
            Log.UdpReceiveBuffer(_logger, (IPEndPoint)socket.LocalEndPoint!, socket.ReceiveBufferSize, _options.ReceiveBufferBytes);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    protected override Task RunAsync(Socket socket) => ReceiveLoopAsync(socket);

    private async Task ReceiveLoopAsync(Socket socket)
    {
        // Yield first so Start returns before the first receive.
        await Task.Yield();
        var endpoint = (IPEndPoint)socket.LocalEndPoint!;
        var datagram = GC.AllocateUninitializedArray<byte>(Math.Max(MaxDatagram, _options.MaxMessageBytes + 1), pinned: true);
        var address = new SocketAddress(socket.AddressFamily);
        var peers = new PeerNames();
        var backoff = new Backoff(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
        var failures = 0;
        long? stoppedAt = null;
        try
        {
            while (true)
            {
                int received;
                using var quiet = stoppedAt is null ? null : new CancellationTokenSource(QuietFor(stoppedAt.Value), Time);
                try
                {
                    received = await socket.ReceiveFromAsync(datagram, SocketFlags.None, address, quiet?.Token ?? StopToken)
                        .ConfigureAwait(false);
                    failures = 0;
                    Tracker.OnSuccess();
                }
                catch (OperationCanceledException) when (stoppedAt is null && StopToken.IsCancellationRequested)
                {
                    // Stop: from now on, read only what is still arriving, until the socket falls quiet.
                    stoppedAt = Time.GetTimestamp();
                    continue;
                }
                catch (OperationCanceledException) when (quiet is not null)
                {
                    return;
                }
                catch (SocketException ex)
                {
                    // The socket stays bound; wait a little and receive again rather than lose the listener.
                    var delay = backoff.Delay(++failures);
                    Tracker.OnFailure(ex);
                    Log.UdpReceiveFailed(_logger, ex, endpoint, delay);
                    await Task.Delay(delay, Time, stoppedAt is null ? StopToken : CancellationToken.None).ConfigureAwait(false);
                    continue;
                }

                var peer = peers.Of(address);
                if (Decode(datagram.AsSpan(0, received), peer) is { } item)
                {
                    await Writer.WriteAsync(item, peer, AbortToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (AbortToken.IsCancellationRequested || StopToken.IsCancellationRequested)
        {
            // A forced stop while waiting for room (that datagram was never accepted), or a stop during a backoff.
        }
    }

    private IngestItem? Decode(ReadOnlySpan<byte> datagram, string peer) =>
        Decoder.Decode(datagram.TrimEnd("\n\r\0"u8), Transport.Udp, peer, _options.MaxMessageBytes);

    private TimeSpan QuietFor(long stoppedAt)
    {
        var left = _options.StopReadTimeout - Time.GetElapsedTime(stoppedAt);
        return left <= TimeSpan.Zero ? TimeSpan.Zero : left < _options.StopQuietPeriod ? left : _options.StopQuietPeriod;
    }

    /// <summary>The sender's <c>ip:port</c>, formatted once per sender rather than once per datagram.</summary>
    private sealed class PeerNames
    {
        private SocketAddress? _last;
        private string _name = "";

        public string Of(SocketAddress address)
        {
            if (_last is null || !_last.Equals(address))
            {
                _last = new SocketAddress(address.Family, address.Size);
                address.Buffer.CopyTo(_last.Buffer);
                _name = _last.Family switch
                {
                    AddressFamily.InterNetwork => ((IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(_last)).ToString(),
                    _ => ((IPEndPoint)new IPEndPoint(IPAddress.IPv6Any, 0).Create(_last)).ToString(),
                };
            }

            return _name;
        }
    }
}
