namespace Spillway.Pipeline;

/// <summary>
/// Tells a source when every item of a group has been stored: the HTTP source answers a request only then. The
/// source creates a receipt for the number of items, attaches it to each (<see cref="Messages.IngestItem.Receipt"/>),
/// and awaits <see cref="Stored"/>; the writer calls <see cref="OnStored"/> for each item once its batch is committed.
/// </summary>
public sealed class Receipt
{
    private readonly TaskCompletionSource _stored = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pending;

    /// <summary>Creates a receipt for <paramref name="items"/> items; with none, it is stored at once.</summary>
    public Receipt(int items)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(items);
        Items = items;
        _pending = items;
        if (items == 0)
        {
            _stored.TrySetResult();
        }
    }

    /// <summary>The items of the group.</summary>
    public int Items { get; }

    /// <summary>Completes once every item has been stored.</summary>
    public Task Stored => _stored.Task;

    /// <summary>Tells the source that its items will not be kept (the spill log failed): <see cref="Stored"/> faults.</summary>
    public void Fail(Exception reason) => _stored.TrySetException(reason);

    /// <summary>Counts one item stored.</summary>
    public void OnStored()
    {
        var left = Interlocked.Decrement(ref _pending);
        if (left == 0)
        {
            _stored.TrySetResult();
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("A receipt was told of more stored items than it was created for.");
        }
    }
}
