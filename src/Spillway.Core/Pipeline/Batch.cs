using Spillway.Messages;

namespace Spillway.Pipeline;

/// <summary>
/// The items a writer hands to a sink in one write. The writer reuses one batch: a sink must not keep references
/// to its lists after <c>WriteAsync</c> returns.
/// </summary>
public sealed class Batch
{
    private readonly List<Message> _messages;
    private readonly List<Reject> _rejects = [];

    /// <summary>Creates an empty batch.</summary>
    /// <param name="capacity">The expected number of messages.</param>
    public Batch(int capacity = 0) => _messages = new List<Message>(capacity);

    /// <summary>
    /// Names the batch across retries: a sink records it with the rows, in the same transaction, and on a retry whose
    /// earlier attempt did commit (the connection died during COMMIT) finds it and stores nothing twice.
    /// </summary>
    public Guid Id { get; set; }

    /// <summary>The messages, in the order they were accepted.</summary>
    public IReadOnlyList<Message> Messages => _messages;

    /// <summary>The rejects, in the order they were accepted.</summary>
    public IReadOnlyList<Reject> Rejects => _rejects;

    /// <summary>Messages and rejects together.</summary>
    public int Count => _messages.Count + _rejects.Count;

    /// <summary>The summed <see cref="IngestItem.Size"/> of every item.</summary>
    public long Bytes { get; private set; }

    /// <summary>True when some item carries a <see cref="IngestItem.Receipt"/> to be told once the batch is stored.</summary>
    public bool HasReceipts { get; private set; }

    /// <summary>Adds an item to the list of its kind.</summary>
    public void Add(IngestItem item)
    {
        switch (item)
        {
            case Message message:
                _messages.Add(message);
                break;
            case Reject reject:
                _rejects.Add(reject);
                break;
            default:
                throw new ArgumentException($"Unknown item type {item?.GetType().Name ?? "null"}.", nameof(item));
        }

        Bytes += item.Size;
        HasReceipts |= item.Receipt is not null;
    }

    /// <summary>Tells the receipts of the batch's items that they are stored. Called once the batch is committed.</summary>
    public void AcknowledgeReceipts()
    {
        if (!HasReceipts)
        {
            return;
        }

        foreach (var message in _messages)
        {
            message.Receipt?.OnStored();
        }

        foreach (var reject in _rejects)
        {
            reject.Receipt?.OnStored();
        }
    }

    /// <summary>Empties the batch for reuse.</summary>
    public void Clear()
    {
        _messages.Clear();
        _rejects.Clear();
        Bytes = 0;
        HasReceipts = false;
        Id = Guid.Empty;
    }
}
