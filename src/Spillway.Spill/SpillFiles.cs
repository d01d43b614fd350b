using System.Globalization;

namespace Spillway.Spill;

/// <summary>
/// The names in a spill directory (the lock, the segments) and its quarantine, where bytes that are not records are
/// kept rather than deleted.
/// </summary>
internal static class SpillFiles
{
    public const string QuarantineName = "quarantine";
    private const string LockName = "lock";

    public static string LockPath(string directory) => Path.Combine(directory, LockName);

    /// <summary>The segment files, ordered by the first sequence number each is named for.</summary>
    public static List<(long First, string Path)> Segments(ISpillFileSystem files, string directory)
    {
        var segments = new List<(long, string)>();
        foreach (var path in files.List(directory, "*" + SegmentSet.Extension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var first))
            {
                segments.Add((first, path));
            }
        }

        segments.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return segments;
    }

    /// <summary>Where the bytes at <paramref name="offset"/> of a segment are kept.</summary>
    public static string QuarantinePath(string directory, string segmentPath, long offset) =>
        Path.Combine(directory, QuarantineName,
            $"{Path.GetFileNameWithoutExtension(segmentPath)}-at-{offset.ToString(CultureInfo.InvariantCulture)}.bin");

    /// <summary>
    /// Keeps damaged bytes in the quarantine directory, named for where they were found, and returns the file. Needs
    /// only their own size on disk; when even that is missing, no partial copy is left and the error says how much
    /// space it needed.
    /// </summary>
    public static string Quarantine(ISpillFileSystem files, string directory, string segmentPath, long offset, ReadOnlySpan<byte> bytes)
    {
        var quarantine = Path.Combine(directory, QuarantineName);
        var path = QuarantinePath(directory, segmentPath, offset);
        files.CreateDirectory(quarantine);
        ISpillFile? file = null;
        try
        {
            file = files.Open(path, SpillFileMode.Create);
            file.Write(bytes, 0);
            file.Flush();
            file.Dispose();
            file = null;
            using (files.OpenDirectory(quarantine, out var flush))
            {
                flush();
            }
        }
        catch (IOException ex)
        {
            file?.Dispose();
            try
            {
                files.Delete(path);
            }
            catch (IOException)
            {
                // The error below says what happened; an empty or partial copy is all that can be left.
            }

            if (SpillErrors.Classify(ex) == SpillFault.Full)
            {
                throw new IOException(
                    $"the spill log needs {bytes.Length.ToString(CultureInfo.InvariantCulture)} bytes free on the filesystem of '{directory}' " +
                    $"to keep damaged bytes of {Path.GetFileName(segmentPath)} in quarantine ({ex.Message}); free that much space and start again",
                    ex) { HResult = ex.HResult };
            }

            throw;
        }

        return path;
    }
}
