using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spillway.Bench;

/// <summary>
/// <c>spillway-bench send</c>: a TCP client for people and tests. Sends the lines of stdin, or <c>-n</c> generated messages
/// that each carry a sequence number (<c>seq=0000000042 ...</c>), message <c>i</c> on connection <c>i % C</c>; over
/// TLS (RFC 5425) with <c>--tls-ca</c>, with a client certificate for mutual TLS.
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
                if (ListenEndpoint.TryParse(text, out var endpoint))
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

        var tlsCa = new Option<FileInfo?>("--tls-ca")
        {
            Description = "Send over TLS (to --listen-tls), trusting the CA certificates in this PEM file alone", HelpName = "PATH",
        };
        var tlsName = new Option<string?>("--tls-name")
        {
            Description = "The name the server's certificate must carry, with --tls-ca [default: the host of --tcp]", HelpName = "NAME",
        };
        var tlsCert = new Option<FileInfo?>("--tls-cert")
        {
            Description = "A client certificate (PEM) to present, for mutual TLS; with --tls-key", HelpName = "PATH",
        };
        var tlsKey = new Option<FileInfo?>("--tls-key") { Description = "The private key of --tls-cert (PEM)", HelpName = "PATH" };

        var command = new Command("send", "Send messages over TCP or TLS: the lines of stdin, or -n generated ones")
        {
            tcp, count, size, connections, framing, tlsCa, tlsName, tlsCert, tlsKey,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(tlsCert) is null) != (result.GetResult(tlsKey) is null))
            {
                result.AddError("--tls-cert and --tls-key go together: the certificate and its private key");
            }

            if (result.GetResult(tlsCa) is null && (result.GetResult(tlsCert) is not null || result.GetResult(tlsName) is not null))
            {
                result.AddError("--tls-cert, --tls-key and --tls-name are for TLS: give --tls-ca, the CA that signed the server's certificate");
            }
        });
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
            SslClientAuthenticationOptions? tls;
            try
            {
                tls = parseResult.GetValue(tlsCa) is { } ca
                    ? ClientOptions(ca.FullName, parseResult.GetValue(tlsName) ?? endpoint.Address.ToString(), parseResult.GetValue(tlsCert)?.FullName,
                        parseResult.GetValue(tlsKey)?.FullName)
                    : null;
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
            {
                await parseResult.InvocationConfiguration.Error.WriteLineAsync($"spillway-bench send: cannot read the TLS files: {ex.Message}");
                return 1;
            }

            var sender = new TcpSender(endpoint, parseResult.GetValue(framing), tls);
            var connectionCount = parseResult.GetValue(connections);
            var report = parseResult.GetValue(count) is { } n
                ? await sender.SendGeneratedAsync(0, n, parseResult.GetValue(size), connectionCount, cancellationToken)
                : await sender.SendLinesAsync(openInput(), cancellationToken);
            return await ReportAsync(report, tls is null ? "tcp" : "tls", endpoint, parseResult.InvocationConfiguration.Output,
                parseResult.InvocationConfiguration.Error);
        });
        return command;
    }

    /// <summary>TLS to <paramref name="name"/>, trusting the CAs of <paramref name="caPath"/> alone, with a client certificate if given.</summary>
    private static SslClientAuthenticationOptions ClientOptions(string caPath, string name, string? certificatePath, string? keyPath)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(caPath);
        if (roots.Count == 0)
        {
            throw new CryptographicException($"'{caPath}' holds no PEM certificate");
        }

        var options = TcpSender.TrustingOnly(roots, name);
        if (certificatePath is not null)
        {
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(certificatePath, keyPath)];
        }

        return options;
    }

    private static async Task<int> ReportAsync(SendReport report, string transport, IPEndPoint endpoint, TextWriter output, TextWriter error)
    {
        var rate = report.Elapsed.TotalSeconds > 0 ? report.Messages / report.Elapsed.TotalSeconds : 0;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"sent {report.Messages} messages ({report.Bytes} bytes) over {report.Connections} connection(s) to {transport} {endpoint} in {report.Elapsed.TotalSeconds:F2} s: {rate:F0} msg/s"));
        foreach (var failure in report.Errors)
        {
            await error.WriteLineAsync($"spillway-bench send: {failure}");
        }

        return report.Errors.Count == 0 ? 0 : 1;
    }
}
