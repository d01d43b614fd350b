namespace Spillway.Demos;

/// <summary>One scenario of the article.</summary>
public interface IDemo
{
    /// <summary>The name given to <c>spillway demo NAME</c>.</summary>
    string Name { get; }

    /// <summary>One line: what it shows.</summary>
    string Summary { get; }

    /// <summary>Runs the scenario, writing its log to the context.</summary>
    Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken);
}

/// <summary>What a scenario ended with.</summary>
/// <param name="AsExpected">True when the run showed what the scenario is there to show.</param>
/// <param name="Conclusion">One line saying what it showed.</param>
public record DemoOutcome(bool AsExpected, string Conclusion);
