using System.CommandLine;
using System.Globalization;
using System.Net;
using Spillway.Cli.Hosting;

namespace Spillway.Cli.Commands;

/// <summary>
/// <c>spillway send</c>: a TCP client for people and tests. Sends the lines of stdin, or <c>-n</c> generated messages
/// that each carry a sequence number (<c>seq=0000000042 ...</c>), message <c>i</c> on connection <c>i % C</c>.
/// </summary>
internal static class SendCommand
{
    public static Command Create(Func<Stream> openInput)
    {
        var tcp = new Option<IPEndPoint>("--tcp")
        {
            Description = "Where to send",
            HelpName = "HOST:PORT",
            DefaultValueFactory = _ => new IPEndPoint(IPAddress.Loopback, 5514),
            CustomParser = result =>
            {
                var text = result.Tokens[^1].Value;
                if (ValueParsers.TryParseEndpoint(text, out var endpoint))
                {
                    return endpoint;
                }

                result.AddError($"invalid value '{text}' for --tcp: expected HOST:PORT, such as 127.0.0.1:5514");
                return null;
            },
        };
        var count = new Option<long?>("--count", "-n")
        {
            Description = "Send this many generated messages instead of the lines of stdin", HelpName = "N",
        };
        var size = new Option<int>("--size")
        {
            Description = $"Bytes in each generated message, framing excluded (at least {MessageGenerator.MinimumSize})",
            HelpName = "BYTES", DefaultValueFactory = _ => 100,
        };
        var connections = new Option<int>("--connections", "-c")
        {
            Description = "TCP connections to spread the messages over", HelpName = "C", DefaultValueFactory = _ => 1,
        };
        var framing = new Option<SendFraming>("--framing")
        {
            Description = "lf: each message ends with LF; octet: RFC 6587 octet counting", DefaultValueFactory = _ => SendFraming.Lf,
        };

        var command = new Command("send", "Send messages over TCP: the lines of stdin, or -n generated ones")
        {
            tcp, count, size, connections, framing,
        };
        size.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < MessageGenerator.MinimumSize)
            {
                result.AddError($"--size must be at least {MessageGenerator.MinimumSize}, to hold the sequence number");
            }
        });
        connections.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--connections must be at least 1");
            }
        });
        count.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long?>() is < 0)
            {
                result.AddError("--count must not be negative");
            }
        });

        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var endpoint = parseResult.GetValue(tcp)!;
            var sender = new TcpSender(endpoint, parseResult.GetValue(framing));
            var connectionCount = parseResult.GetValue(connections);
            var report = parseResult.GetValue(count) is { } n
                ? await sender.SendGeneratedAsync(0, n, parseResult.GetValue(size), connectionCount, cancellationToken)
                : await sender.SendLinesAsync(openInput(), cancellationToken);
            return await ReportAsync(report, endpoint, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    private static async Task<int> ReportAsync(SendReport report, IPEndPoint endpoint, TextWriter output, TextWriter error)
    {
        var rate = report.Elapsed.TotalSeconds > 0 ? report.Messages / report.Elapsed.TotalSeconds : 0;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"sent {report.Messages} messages ({report.Bytes} bytes) over {report.Connections} connection(s) to tcp {endpoint} in {report.Elapsed.TotalSeconds:F2} s: {rate:F0} msg/s"));
        foreach (var failure in report.Errors)
        {
            await error.WriteLineAsync($"spillway send: {failure}");
        }

        return report.Errors.Count == 0 ? 0 : 1;
    }
}
