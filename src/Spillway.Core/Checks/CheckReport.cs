namespace Spillway.Checks;

/// <summary>
/// What a check of the environment found before <c>serve</c> starts: problems that would keep it from running (it
/// refuses to start on any), warnings that it runs despite, and facts worth showing (a server's version).
/// </summary>
public sealed class CheckReport
{
    private readonly List<string> _problems = [];
    private readonly List<string> _warnings = [];
    private readonly List<string> _facts = [];

    /// <summary>What would keep <c>serve</c> from running, one sentence each.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>What <c>serve</c> runs despite, but an operator should know.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>What was found in working order, worth a line in <c>check-config</c>'s output.</summary>
    public IReadOnlyList<string> Facts => _facts;

    /// <summary>Records a problem.</summary>
    public void Problem(string message) => _problems.Add(message);

    /// <summary>Records a warning.</summary>
    public void Warning(string message) => _warnings.Add(message);

    /// <summary>Records a fact.</summary>
    public void Fact(string message) => _facts.Add(message);

    /// <summary>Takes in everything another report found.</summary>
    public void Add(CheckReport other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _problems.AddRange(other._problems);
        _warnings.AddRange(other._warnings);
        _facts.AddRange(other._facts);
    }
}
