using Microsoft.Extensions.Logging;

namespace Spillway.Spill;

/// <summary>What opening a spill directory found, once it was made whole.</summary>
internal sealed class Recovered
{
    public required List<Segment> Segments { get; init; }

    public required Checkpoint Checkpoint { get; init; }

    public required Checkpoint? OlderCheckpoint { get; init; }

    /// <summary>Cuts at or after the checkpoint, to be taken again exactly as they were.</summary>
    public required List<Cut> Cuts { get; init; }

    public required long NextSequence { get; init; }

    public long ReplayRecords { get; init; }

    public long ReplayBytes { get; init; }

    public long QuarantinedRegions { get; init; }

    public long QuarantinedBytes { get; init; }

    public long TruncatedBytes { get; init; }

    /// <summary>Damaged regions (segment, offset) already kept in the quarantine, left in place for the reader to skip.</summary>
    public required HashSet<(string Segment, long Offset)> Quarantined { get; init; }
}

/// <summary>
/// Opens a spill directory after any stop, clean or not, and refuses to only for want of the space to keep damage in:
/// a torn tail is copied to the quarantine and cut off by truncating the segment, damaged bytes in the middle are
/// copied to the quarantine and left for the reader to skip, a damaged checkpoint falls back to the other copy or to
/// the oldest record. Nothing is rewritten, so recovery needs no more space than the damage itself; what cannot be
/// read is kept, never deleted.
/// </summary>
internal static class Recovery
{
    public static Recovered Run(ISpillFileSystem files, string directory, Action syncDirectory, ILogger logger)
    {
        // Copies an older version made to repair a segment: the segment itself is whole beside it.
        foreach (var leftover in files.List(directory, "*" + SegmentSet.Extension + ".repair"))
        {
            files.Delete(leftover);
        }

        var (newest, older, damagedSlots) = CheckpointStore.Read(files, directory);
        var segments = new List<Segment>();
        var quarantined = new HashSet<(string, long)>();
        var found = SpillFiles.Segments(files, directory);
        var replayFrom = newest?.Next ?? (found.Count > 0 ? found[0].First : 1);
        long lastSequence = 0;
        long quarantinedRegions = 0, quarantinedBytes = 0, truncatedBytes = 0, replayRecords = 0, replayBytes = 0;
        for (var i = 0; i < found.Count; i++)
        {
            var (first, path) = found[i];
            if (i + 1 < found.Count && found[i + 1].First <= replayFrom)
            {
                // Every record in it is stored: the process stopped between the checkpoint and the delete.
                files.Delete(path);
                lastSequence = found[i + 1].First - 1;
                continue;
            }

            var isLast = i == found.Count - 1;
            var damage = new List<(long Start, long Length)>();
            long length;
            long validEnd = 0;
            using (var reader = new SegmentReader(files, path, Math.Max(first, lastSequence + 1)))
            {
                reader.Seek(0, Math.Max(first, lastSequence + 1) - 1);
                length = reader.Length;
                while (true)
                {
                    var outcome = reader.Next(length, out var sequence, out var payload, out var damageStart, out var damageLength);
                    if (outcome == ReadOutcome.End)
                    {
                        break;
                    }

                    if (outcome == ReadOutcome.Record)
                    {
                        lastSequence = sequence;
                        validEnd = reader.Position;
                        if (sequence >= replayFrom)
                        {
                            replayRecords++;
                            replayBytes += RecordCodec.FrameSize(payload);
                        }
                    }
                    else
                    {
                        damage.Add((damageStart, damageLength));
                    }
                }

                foreach (var (start, count) in damage)
                {
                    var torn = isLast && start >= validEnd;
                    var copy = SpillFiles.QuarantinePath(directory, path, start);
                    if (!torn && files.Exists(copy))
                    {
                        quarantined.Add((path, start)); // kept at an earlier start; the reader skips it
                        continue;
                    }

                    var quarantine = SpillFiles.Quarantine(files, directory, path, start, reader.ReadBytes(start, count));
                    if (torn)
                    {
                        truncatedBytes += count;
                        Log.TornTail(logger, path, start, count, quarantine);
                    }
                    else
                    {
                        quarantined.Add((path, start));
                        quarantinedRegions++;
                        quarantinedBytes += count;
                        Log.Damage(logger, path, start, count, quarantine);
                    }
                }
            }

            if (isLast && validEnd > 0 && length > validEnd)
            {
                // The torn tail, cut off in place: the segment ends with its last whole record.
                using var file = files.Open(path, SpillFileMode.Write);
                file.SetLength(validEnd);
                file.Flush();
                length = validEnd;
            }

            if (length == 0 || validEnd == 0)
            {
                files.Delete(path);
                continue;
            }

            segments.Add(new Segment(first, path, length));
        }

        if (found.Count > 0)
        {
            syncDirectory();
        }

        Checkpoint checkpoint;
        if (newest is { } n)
        {
            checkpoint = n;
            if (damagedSlots > 0 && older is null && n.Generation > 1)
            {
                Log.CheckpointFallback(logger, damagedSlots, n.Next);
            }
        }
        else
        {
            // No copy holds: replay everything still on disk. Safe (nothing lost); the ledger skips what it knows.
            checkpoint = new Checkpoint(0, replayFrom);
            if (damagedSlots > 0)
            {
                Log.CheckpointFallback(logger, damagedSlots, checkpoint.Next);
            }
        }

        var (allCuts, damagedCuts) = CutJournal.Read(files, directory);
        if (damagedCuts > 0)
        {
            Log.CutsDamaged(logger, damagedCuts);
        }

        var cuts = new List<Cut>();
        foreach (var cut in allCuts.Where(c => c.Last >= checkpoint.Next && c.First <= c.Last).OrderBy(c => c.First))
        {
            if (cuts.Count == 0 || cut.First > cuts[^1].Last)
            {
                cuts.Add(cut);
            }
        }

        var next = Math.Max(Math.Max(lastSequence + 1, checkpoint.Next), cuts.Count > 0 ? cuts[^1].Last + 1 : 1);
        return new Recovered
        {
            Segments = segments,
            Checkpoint = checkpoint,
            OlderCheckpoint = older,
            Cuts = cuts,
            NextSequence = next,
            ReplayRecords = replayRecords,
            ReplayBytes = replayBytes,
            QuarantinedRegions = quarantinedRegions,
            QuarantinedBytes = quarantinedBytes,
            TruncatedBytes = truncatedBytes,
            Quarantined = quarantined,
        };
    }
}
