namespace Spillway.Testing;

/// <summary>
/// Waits for a condition that another thread or process makes true (rows landing, a counter reaching a value),
/// checking it every few milliseconds and failing with a message once the timeout passes. It waits for the
/// condition itself, never for a guessed amount of time.
/// </summary>
internal static class Eventually
{
    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TestTimeouts.Wait;
        var started = TimeProvider.System.GetTimestamp();
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(started) > limit)
            {
                Assert.Fail($"timed out after {limit.TotalSeconds:F0} s waiting for {what}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Reads a value until it satisfies <paramref name="condition"/>, and returns it; fails once the timeout passes.</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TestTimeouts.Wait;
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var value = await read();
            if (condition(value))
            {
                return value;
            }

            if (TimeProvider.System.GetElapsedTime(started) > limit)
            {
                Assert.Fail($"timed out after {limit.TotalSeconds:F0} s waiting for {what}; last seen: {value}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System, TestContext.Current.CancellationToken);
        }
    }
}
