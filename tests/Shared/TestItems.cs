using Spillway.Messages;

namespace Spillway.Testing;

internal static class TestItems
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static Message Message(string text, int? size = null) =>
        new(At, Transport.Tcp, "127.0.0.1:1", text, size ?? text.Length);

    public static Reject Reject(RejectReason reason, int size = 3) =>
        new(At, Transport.Tcp, "127.0.0.1:1", reason, new byte[size], "test");

    /// <summary>A batch of these items, in order.</summary>
    public static Pipeline.Batch BatchOf(params IngestItem[] items)
    {
        var batch = new Pipeline.Batch();
        foreach (var item in items)
        {
            batch.Add(item);
        }

        return batch;
    }
}
