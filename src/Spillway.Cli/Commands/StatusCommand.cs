using System.CommandLine;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spillway.Cli.Hosting;
using Spillway.Cli.Status;

namespace Spillway.Cli.Commands;

/// <summary>
/// <c>spillway status</c>: a live view of a running <c>serve</c> (rates, buffer fill, writers, listeners, rejects),
/// read from its <c>/metrics</c> and <c>/health</c> every <c>--interval</c>; <c>--once</c> prints one view and exits.
/// A serve run with <c>--protect-admin</c> is read with the API key in <see cref="ApiKeyVariable"/>: a secret is never
/// taken as an argument, which every user of the machine can read in the process list.
/// </summary>
internal static class StatusCommand
{
    /// <summary>The environment variable that holds the API key to read a serve run with <c>--protect-admin</c>.</summary>
    public const string ApiKeyVariable = "SPILLWAY_API_KEY";

    public static Command Create()
    {
        var url = new Option<Uri>("--url")
        {
            Description = "Where serve's HTTP listener is", HelpName = "URL",
            DefaultValueFactory = _ => new Uri("http://127.0.0.1:5515/"),
            CustomParser = result =>
            {
                var text = result.Tokens[^1].Value;
                if (Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                {
                    return uri;
                }

                result.AddError($"invalid value '{text}' for --url: expected an http:// URL, such as http://127.0.0.1:5515");
                return null;
            },
        };
        var once = new Option<bool>("--once") { Description = "Print one view (rates over one --interval) and exit, for scripts" };
        var interval = new Option<TimeSpan>("--interval")
        {
            Description = "How often to read, e.g. 1s [default: 1s]", HelpName = "DURATION", DefaultValueFactory = _ => TimeSpan.FromSeconds(1),
            CustomParser = result =>
            {
                var text = result.Tokens[^1].Value;
                if (ValueParsers.TryParseDuration(text, out var value) && value >= TimeSpan.FromMilliseconds(100))
                {
                    return value;
                }

                result.AddError($"invalid value '{text}' for --interval: expected a duration of at least 100ms, such as 1s");
                return default;
            },
        };

        var command = new Command("status",
            $"Show a running serve's rates, buffer, writers and listeners, from its /metrics and /health (under --protect-admin, with the API key in {ApiKeyVariable})")
        {
            url, once, interval,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(parseResult.InvocationConfiguration.Output) });
            return await RunAsync(parseResult.GetValue(url)!, parseResult.GetValue(once), parseResult.GetValue(interval), console,
                parseResult.InvocationConfiguration.Error, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(Uri url, bool once, TimeSpan interval, IAnsiConsole console, TextWriter error, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        if (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key.Trim());
        }

        try
        {
            var before = await StatusSnapshot.ReadAsync(http, url, stop.Token);
            if (once)
            {
                await Task.Delay(interval, TimeProvider.System, stop.Token);
                console.Write(StatusView.Render(url, await StatusSnapshot.ReadAsync(http, url, stop.Token), before));
                return 0;
            }

            await console.Live(StatusView.Render(url, before, null)).StartAsync(async live =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(interval, TimeProvider.System, stop.Token);
                    try
                    {
                        var now = await StatusSnapshot.ReadAsync(http, url, stop.Token);
                        live.UpdateTarget(StatusView.Render(url, now, before));
                        before = now;
                    }
                    catch (HttpRequestException ex)
                    {
                        live.UpdateTarget(new Markup($"[red]cannot read {Markup.Escape(url.ToString())}: {Markup.Escape(ex.Message)}[/] (retrying)"));
                    }
                }
            });
            return 0;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
        catch (HttpRequestException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Unauthorized)
        {
            await error.WriteLineAsync(Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 }
                ? $"spillway status: {url} does not take the API key in {ApiKeyVariable}: it is wrong, or not in serve's --api-keys file"
                : $"spillway status: {url} asks for an API key (serve runs with --protect-admin): set {ApiKeyVariable} to a key of its --api-keys file");
            return 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or FormatException or System.Text.Json.JsonException
                                   or KeyNotFoundException or InvalidOperationException)
        {
            await error.WriteLineAsync($"spillway status: cannot read {url}: {ex.Message}");
            return 1;
        }

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}
