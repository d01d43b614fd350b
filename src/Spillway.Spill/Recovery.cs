using Microsoft.Extensions.Logging;

namespace Spillway.Spill;

/// <summary>A segment file as the log knows it.</summary>
internal sealed class Segment(long first, string path, long length)
{
    public long First { get; } = first;

    public string Path { get; } = path;

    /// <summary>Bytes written to it (for the segment being appended to, those the writes have finished).</summary>
    public long Length { get; set; } = length;
}

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
}

/// <summary>
/// Opens a spill directory after any stop, clean or not, and never refuses to: a torn tail is cut off, damaged bytes
/// in the middle are moved to the quarantine and the records around them kept, a damaged checkpoint falls back to
/// the other copy or to the oldest record. What cannot be read is moved aside, never deleted.
/// </summary>
internal static class Recovery
{
    public static Recovered Run(string directory, ILogger logger)
    {
        var (newest, older, damagedSlots) = SpillFiles.ReadCheckpoints(directory);
        var segments = new List<Segment>();
        var found = SpillFiles.Segments(directory);
        var replayFrom = newest?.Next ?? (found.Count > 0 ? found[0].First : 1);
        long lastSequence = 0;
        long quarantinedRegions = 0, quarantinedBytes = 0, truncatedBytes = 0, replayRecords = 0, replayBytes = 0;
        for (var i = 0; i < found.Count; i++)
        {
            var (first, path) = found[i];
            if (i + 1 < found.Count && found[i + 1].First <= replayFrom)
            {
                // Every record in it is stored: the process stopped between the checkpoint and the delete.
                File.Delete(path);
                lastSequence = found[i + 1].First - 1;
                continue;
            }

            var isLast = i == found.Count - 1;
            var damage = new List<(long Start, long Length)>();
            long length;
            long validEnd = 0;
            using (var reader = new SegmentReader(path, Math.Max(first, lastSequence + 1)))
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
                    var quarantine = SpillFiles.Quarantine(directory, path, start, reader.ReadBytes(start, count));
                    if (torn)
                    {
                        truncatedBytes += count;
                        Log.TornTail(logger, path, start, count, quarantine);
                    }
                    else
                    {
                        quarantinedRegions++;
                        quarantinedBytes += count;
                        Log.Damage(logger, path, start, count, quarantine);
                    }
                }
            }

            if (damage.Count > 0)
            {
                length = Repair(path, damage, length);
            }

            if (length == 0)
            {
                File.Delete(path);
                continue;
            }

            segments.Add(new Segment(first, path, length));
        }

        if (found.Count > 0)
        {
            SpillFiles.SyncDirectory(directory);
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

        var (allCuts, damagedCuts) = SpillFiles.ReadCuts(directory);
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
        };
    }

    /// <summary>Rewrites a segment without its damaged ranges (aside, fsynced, renamed over it); returns its new length.</summary>
    private static long Repair(string path, List<(long Start, long Length)> damage, long length)
    {
        var temp = path + ".repair";
        long written = 0;
        using (var source = File.OpenHandle(path, FileMode.Open, FileAccess.Read))
        using (var target = File.OpenHandle(temp, FileMode.Create, FileAccess.Write))
        {
            var buffer = new byte[1024 * 1024];
            long position = 0;
            foreach (var (start, count) in damage.Append((length, 0)))
            {
                while (position < start)
                {
                    var n = RandomAccess.Read(source, buffer.AsSpan(0, (int)Math.Min(buffer.Length, start - position)), position);
                    if (n == 0)
                    {
                        break;
                    }

                    RandomAccess.Write(target, buffer.AsSpan(0, n), written);
                    written += n;
                    position += n;
                }

                position = start + count;
            }

            RandomAccess.FlushToDisk(target);
        }

        File.Move(temp, path, overwrite: true);
        return written;
    }
}
