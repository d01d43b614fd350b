using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Spillway.EndToEnd.Tests;

/// <summary>
/// A steady stream of numbered messages to one edge, over a TCP connection and HTTP requests at once, until stopped; each
/// message remembered with what its sender was told: <see cref="Fate.Owed"/> when it must be stored exactly once (its
/// request was answered 200, or its TCP connection was closed cleanly after it), <see cref="Fate.Refused"/> when it must
/// not be stored at all (answered 503: none of the request was taken), <see cref="Fate.Unknown"/> when at most once (its
/// connection broke, or its request had no answer: the edge was killed).
/// </summary>
internal sealed class ScaleOutLoad(string name, Func<IPEndPoint> tcp, Func<IPEndPoint> http)
{
    private const int LinesPerRequest = 20;
    private const int LinesPerWrite = 50;
    private readonly ConcurrentDictionary<string, Fate> _sent = new();
    private int _connections;

    public enum Fate
    {
        Owed,
        Unknown,
        Refused,
    }

    /// <summary>Every message sent, with what its sender was told.</summary>
    public IReadOnlyDictionary<string, Fate> Sent => _sent;

    public int Count(Fate fate) => _sent.Values.Count(f => f == fate);

    /// <summary>The messages owed that went over <paramref name="transport"/> (<c>tcp</c> or <c>http</c>).</summary>
    public int Owed(string transport) => _sent.Count(s => s.Value == Fate.Owed && s.Key.StartsWith($"{name}-{transport}", StringComparison.Ordinal));

    /// <summary>Sends until <paramref name="stop"/>, then closes the TCP connection cleanly (reading it to the server's close).</summary>
    public Task RunAsync(CancellationToken stop) => Task.WhenAll(SendTcpAsync(stop), SendHttpAsync(stop));

    private async Task SendTcpAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var endpoint = tcp();
            var connection = Interlocked.Increment(ref _connections);
            var lines = new List<string>();
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(endpoint, CancellationToken.None);
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    var text = new StringBuilder();
                    for (var j = 0; j < LinesPerWrite; j++)
                    {
                        var line = $"{name}-tcp{connection}-{i * LinesPerWrite + j}";
                        lines.Add(line);
                        _sent[line] = Fate.Unknown;
                        text.Append(line).Append('\n');
                    }

                    await socket.SendAsync(Encoding.UTF8.GetBytes(text.ToString()), CancellationToken.None);
                    await Pace(stop);
                }

                // A clean close: the server reads to our end, then closes its side; only then is every line surely taken.
                socket.Shutdown(SocketShutdown.Send);
                var buffer = new byte[64];
                using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                while (await socket.ReceiveAsync(buffer, closing.Token) > 0)
                {
                }

                lines.ForEach(l => _sent[l] = Fate.Owed);
                return;
            }
            catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
            {
                // The edge went away: these lines may or may not have been taken. Try again once it is back (a new endpoint).
                while (!stop.IsCancellationRequested && tcp().Equals(endpoint))
                {
                    await Pace(stop);
                }
            }
        }
    }

    private async Task SendHttpAsync(CancellationToken stop)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        for (var request = 0; !stop.IsCancellationRequested; request++)
        {
            var lines = Enumerable.Range(0, LinesPerRequest).Select(i => $"{name}-http-{request}-{i}").ToList();
            lines.ForEach(l => _sent[l] = Fate.Unknown);
            try
            {
                using var content = new StringContent(string.Join('\n', lines), Encoding.UTF8, "text/plain");
                using var response = await client.PostAsync(new Uri($"http://{http()}/ingest"), content, CancellationToken.None);
                var fate = response.StatusCode switch
                {
                    HttpStatusCode.OK => Fate.Owed,
                    HttpStatusCode.ServiceUnavailable => Fate.Refused,
                    _ => throw new InvalidOperationException($"{name}: POST /ingest answered {(int)response.StatusCode}"),
                };
                lines.ForEach(l => _sent[l] = fate);
            }
            catch (HttpRequestException)
            {
                // No answer: the edge went away mid-request (Unknown), or is not back yet.
            }

            await Pace(stop);
        }
    }

    /// <summary>A few milliseconds between writes, so that the load lasts as long as the test and its faults do.</summary>
    private static async Task Pace(CancellationToken stop)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
