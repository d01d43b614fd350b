using System.CommandLine;
using Spillway.Keys;

namespace Spillway.Cli.Commands;

/// <summary>
/// <c>spillway key new NAME</c>: makes a fresh API key secret and prints it once, with the line of the keys file that
/// holds its hash. Nothing is written anywhere: the secret goes to the sender, the line into <c>--api-keys</c>.
/// </summary>
internal static class KeyCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME")
        {
            Description = "The key's name, as stored in the client column and shown in the metrics: 1 to 64 letters, digits, '.', '_' or '-'",
        };
        name.Validators.Add(result =>
        {
            if (result.Tokens.Count == 1 && !ApiKeyFile.IsValidName(result.Tokens[0].Value))
            {
                result.AddError($"'{result.Tokens[0].Value}' is not a key name: 1 to 64 letters, digits, '.', '_' or '-'");
            }
        });
        var rate = Positive("--rate", "Messages per second the key may send, on average; beyond it POST /ingest answers 429 [default: no limit]");
        var burst = Positive("--burst", "The most messages the key may send at once, with --rate [default: the rate]");
        var create = new Command("new", "Make a new API key: print its secret (once; it is kept nowhere) and the line to add to the --api-keys file")
        {
            name, rate, burst,
        };
        create.Validators.Add(result =>
        {
            if (result.GetResult(burst) is not null && result.GetResult(rate) is null)
            {
                result.AddError("--burst needs --rate: the burst is how far above its rate a key may go at once");
            }
        });
        create.SetAction(async (parseResult, cancellationToken) =>
        {
            var limit = parseResult.GetValue(rate) is { } r ? new ApiKeyLimit(r, parseResult.GetValue(burst) ?? r) : null;
            var secret = ApiKeySecret.New();
            var output = parseResult.InvocationConfiguration.Output;
            await output.WriteLineAsync(secret.AsMemory(), cancellationToken);
            await output.WriteLineAsync(ApiKeySecret.Line(parseResult.GetValue(name)!, secret, limit).AsMemory(), cancellationToken);
            await parseResult.InvocationConfiguration.Error.WriteLineAsync((
                "spillway key new: the first line is the secret: give it to the sender (Authorization: Bearer SECRET, or X-API-Key: SECRET); " +
                "it is shown this once and kept nowhere. The second line holds its SHA-256: add it to the --api-keys file, which is read " +
                "again when it changes.").AsMemory(), cancellationToken);
            return 0;
        });
        return new Command("key", "Manage API keys for the HTTP listeners (--api-keys)") { create };
    }

    private static Option<int?> Positive(string flag, string description) => new(flag)
    {
        Description = description,
        HelpName = "N",
        CustomParser = result =>
        {
            var text = result.Tokens[^1].Value;
            if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
                && value >= 1 && value <= ApiKeyFile.MaxRate)
            {
                return value;
            }

            result.AddError($"invalid value '{text}' for {flag}: expected a whole number from 1 to {ApiKeyFile.MaxRate:N0}");
            return null;
        },
    };
}
