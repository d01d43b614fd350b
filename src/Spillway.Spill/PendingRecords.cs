using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Spill;

/// <summary>
/// Records appended and not yet written to a segment file: their bytes end to end, in sequence order, and for each its
/// sequence number, length and (for a sender waiting to hear) its receipt and item, so that a write the disk refuses
/// can give exactly those records back. Not thread-safe: the log's gate guards the one being appended to, and the
/// flusher owns the one it is writing.
/// </summary>
internal sealed class PendingRecords
{
    private readonly List<Entry> _entries = [];
    private byte[] _bytes = new byte[256 * 1024];

    /// <summary>One record.</summary>
    /// <param name="Sequence">Its sequence number.</param>
    /// <param name="Offset">Where its bytes start.</param>
    /// <param name="Length">Its bytes, header and payload.</param>
    /// <param name="Receipt">Told once the record is durable; null for a sender that is not waiting to hear.</param>
    /// <param name="Item">The item, kept only where it has a receipt (to count it back if it is given back).</param>
    public readonly record struct Entry(long Sequence, int Offset, int Length, Receipt? Receipt, IngestItem? Item);

    /// <summary>Bytes of the records.</summary>
    public int Length { get; private set; }

    public int Count => _entries.Count;

    public Entry this[int index] => _entries[index];

    public ReadOnlySpan<byte> Bytes(int offset, int length) => _bytes.AsSpan(offset, length);

    /// <summary>Adds a sealed record.</summary>
    public void Add(ReadOnlySpan<byte> record, long sequence, Receipt? receipt, IngestItem? item)
    {
        if (Length + record.Length > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, Length + record.Length));
        }

        record.CopyTo(_bytes.AsSpan(Length));
        _entries.Add(new Entry(sequence, Length, record.Length, receipt, item));
        Length += record.Length;
    }

    /// <summary>
    /// Adds the records of <paramref name="source"/> from <paramref name="from"/> on, but for those whose receipt
    /// <paramref name="giveBack"/> says to give back: those go to <paramref name="givenBack"/>.
    /// </summary>
    public void AddKept(PendingRecords source, int from, Func<Receipt, bool> giveBack, List<Entry> givenBack)
    {
        for (var i = from; i < source.Count; i++)
        {
            var entry = source[i];
            if (entry.Receipt is { } receipt && giveBack(receipt))
            {
                givenBack.Add(entry);
            }
            else
            {
                Add(source.Bytes(entry.Offset, entry.Length), entry.Sequence, entry.Receipt, entry.Item);
            }
        }
    }

    /// <summary>Counts, for each receipt, its records from <paramref name="from"/> on into <paramref name="counts"/>.</summary>
    public void CountReceipts(int from, Dictionary<Receipt, int> counts)
    {
        for (var i = from; i < _entries.Count; i++)
        {
            if (_entries[i].Receipt is { } receipt)
            {
                counts[receipt] = counts.GetValueOrDefault(receipt) + 1;
            }
        }
    }

    public void Clear()
    {
        _entries.Clear();
        Length = 0;
    }
}
