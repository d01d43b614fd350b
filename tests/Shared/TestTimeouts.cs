namespace Spillway.Testing;

/// <summary>Every real wait in a test has a timeout, so a hang fails fast instead of stalling CI.</summary>
internal static class TestTimeouts
{
    /// <summary>For waits that should complete almost at once.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>True when the longer stress suite runs (<c>SPILLWAY_STRESS=1</c>).</summary>
    public static bool Stress => Environment.GetEnvironmentVariable("SPILLWAY_STRESS") == "1";

    /// <summary>Iterations for a concurrency test: <paramref name="normal"/>, or ten times as many under stress.</summary>
    public static int Iterations(int normal) => Stress ? normal * 10 : normal;
}
