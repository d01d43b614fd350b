using Spillway.Messages;

namespace Spillway.Diagnostics;

/// <summary>
/// The service's running totals. Accepted counts every item that entered the buffer, Replayed every item found in the
/// spill log at the start (accepted before it); once the buffer has drained,
/// <c>Stored + Rejected + Dropped == Accepted + Replayed</c>. Blank lines are skipped, counted, and not accepted.
/// All members are thread-safe.
/// </summary>
public sealed class IngestStats
{
    private static readonly int Transports = Enum.GetValues<Transport>().Length;

    private readonly long[] _rejectsByReason = new long[RejectReasonNames.All.Count];
    private readonly long[] _acceptedBySource = new long[Transports];
    private readonly long[] _bytesBySource = new long[Transports];
    private readonly long[] _droppedBySource = new long[Transports];
    private readonly long[] _blankBySource = new long[Transports];
    private long _stored;
    private long _rejected;
    private long _replayed;

    /// <summary>Items (messages and rejects) that entered the buffer.</summary>
    public long Accepted => Sum(_acceptedBySource);

    /// <summary>Messages committed to the messages table.</summary>
    public long Stored => Volatile.Read(ref _stored);

    /// <summary>Rejects committed to the rejects table.</summary>
    public long Rejected => Volatile.Read(ref _rejected);

    /// <summary>Items received and given up: the buffer was full on a source that cannot push back, or the spill log gave them back.</summary>
    public long Dropped => Sum(_droppedBySource);

    /// <summary>Blank frames skipped.</summary>
    public long Blank => Sum(_blankBySource);

    /// <summary>Items found in the spill log at the start, accepted before it and not yet stored then.</summary>
    public long Replayed => Volatile.Read(ref _replayed);

    /// <summary>Accepted (and replayed) items neither stored, rejected nor dropped: what is still in flight.</summary>
    public long Pending => Accepted + Replayed - Stored - Rejected - Dropped;

    /// <summary>Counts the items found in the spill log at the start.</summary>
    public void OnReplayed(long items) => Interlocked.Add(ref _replayed, items);

    /// <summary>Rejects committed for one reason.</summary>
    public long RejectedFor(RejectReason reason) => Volatile.Read(ref _rejectsByReason[(int)reason]);

    /// <summary>Items accepted from one source, dropped ones included.</summary>
    public long AcceptedFrom(Transport source) => Volatile.Read(ref _acceptedBySource[(int)source]);

    /// <summary>Bytes of the frames accepted from one source, as received.</summary>
    public long BytesFrom(Transport source) => Volatile.Read(ref _bytesBySource[(int)source]);

    /// <summary>Items from one source dropped because the buffer was full.</summary>
    public long DroppedFrom(Transport source) => Volatile.Read(ref _droppedBySource[(int)source]);

    /// <summary>Blank frames from one source skipped.</summary>
    public long BlankFrom(Transport source) => Volatile.Read(ref _blankBySource[(int)source]);

    /// <summary>Counts one item entering the buffer.</summary>
    /// <param name="source">The listener it came from.</param>
    /// <param name="bytes">Its frame's length as received.</param>
    public void OnAccepted(Transport source, int bytes)
    {
        // Per source only (the totals are their sums): this runs for every message.
        Interlocked.Increment(ref _acceptedBySource[(int)source]);
        Interlocked.Add(ref _bytesBySource[(int)source], bytes);
    }

    /// <summary>
    /// Counts one item received but given up before the buffer, as a source that cannot push back does when the
    /// buffer is full. It counts as accepted and as dropped, so the totals still add up.
    /// </summary>
    /// <param name="source">The listener it came from.</param>
    /// <param name="bytes">Its frame's length as received.</param>
    public void OnDropped(Transport source, int bytes)
    {
        OnAccepted(source, bytes);
        Interlocked.Increment(ref _droppedBySource[(int)source]);
    }

    /// <summary>
    /// Counts one item that was accepted and then given back to its sender, who was told that it was not kept (the
    /// spill log's disk refused to write it). It counts as dropped, so the totals still add up.
    /// </summary>
    /// <param name="source">The listener it came from.</param>
    public void OnGivenBack(Transport source) => Interlocked.Increment(ref _droppedBySource[(int)source]);

    /// <summary>Counts one blank frame skipped.</summary>
    public void OnBlank(Transport source) => Interlocked.Increment(ref _blankBySource[(int)source]);

    /// <summary>Counts a committed batch.</summary>
    /// <param name="messages">The batch's messages.</param>
    /// <param name="rejects">The batch's rejects.</param>
    /// <param name="refused">How many of the messages the database refused, stored as <c>refused-by-db</c> rejects.</param>
    public void OnCommitted(int messages, IReadOnlyList<Reject> rejects, int refused = 0)
    {
        ArgumentNullException.ThrowIfNull(rejects);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(refused, messages);
        Interlocked.Add(ref _stored, messages - refused);
        Interlocked.Add(ref _rejected, rejects.Count + refused);
        Interlocked.Add(ref _rejectsByReason[(int)RejectReason.RefusedByDb], refused);
        foreach (var reject in rejects)
        {
            Interlocked.Increment(ref _rejectsByReason[(int)reject.Reason]);
        }
    }

    private static long Sum(long[] counts)
    {
        long sum = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            sum += Volatile.Read(ref counts[i]);
        }

        return sum;
    }

    /// <summary>The one-line summary printed at exit: <c>accepted=N stored=N rejected=N dropped=N</c>, and <c>replayed=N</c> when the spill log held some at the start.</summary>
    public string Summary() =>
        $"accepted={Accepted} stored={Stored} rejected={Rejected} dropped={Dropped}" + (Replayed > 0 ? $" replayed={Replayed}" : "");
}
