using System.Threading.Channels;

namespace Spillway.Pipeline;

/// <summary>The wait a batch makes for more items before it is written with what it has.</summary>
public static class Linger
{
    /// <summary>Waits up to <paramref name="timeout"/> for an item; false when the time passed or the channel is complete.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="abort"/> was cancelled.</exception>
    public static async ValueTask<bool> WaitToReadAsync<T>(ChannelReader<T> reader, TimeSpan timeout, TimeProvider time, CancellationToken abort)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(time);
        using var linger = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(abort, linger.Token);
        try
        {
            return await reader.WaitToReadAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (linger.IsCancellationRequested && !abort.IsCancellationRequested)
        {
            return false; // linger passed: write what we have
        }
    }
}
