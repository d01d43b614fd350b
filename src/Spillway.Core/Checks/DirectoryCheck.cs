namespace Spillway.Checks;

/// <summary>Whether files can be made in a directory, found by making one, without creating the directory itself.</summary>
public static class DirectoryCheck
{
    /// <summary>The permission bits that let users other than the owner in.</summary>
    public const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>A mode as chmod writes it: <c>0644</c>.</summary>
    public static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);

    /// <summary>
    /// The directory that <paramref name="directory"/> is or would be created in: itself when it exists, else its
    /// nearest existing parent.
    /// </summary>
    public static string NearestExisting(string directory)
    {
        var path = Path.GetFullPath(directory);
        while (!Directory.Exists(path) && Path.GetDirectoryName(path) is { } parent)
        {
            path = parent;
        }

        return path;
    }

    /// <summary>
    /// Null when this process can create files in <paramref name="directory"/> (or, where it does not exist yet, can
    /// create it); otherwise why not. Leaves nothing behind: the probe file is deleted as it is closed.
    /// </summary>
    /// <param name="directory">The directory the service writes in.</param>
    /// <param name="what">What the directory is for, as the answer names it: "the SQLite database's directory".</param>
    public static string? CannotWrite(string directory, string what)
    {
        var full = Path.GetFullPath(directory);
        var existing = NearestExisting(full);
        for (var path = full; path != existing && path is not null; path = Path.GetDirectoryName(path))
        {
            if (File.Exists(path))
            {
                return $"{what} '{full}' cannot be created: '{path}' is a file, not a directory";
            }
        }

        try
        {
            var probe = Path.Combine(existing, $".spillway-check-{Guid.NewGuid():N}");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }

            return null;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            // The exception's own message names the probe file, which means nothing to the operator.
            var reason = ex is UnauthorizedAccessException ? "permission denied" : ex.Message.Split(" : ")[0];
            return existing == full
                ? $"{what} '{full}' cannot be written by this user ({Environment.UserName}): {reason}"
                : $"{what} '{full}' cannot be created: this user ({Environment.UserName}) cannot create files in '{existing}': {reason}";
        }
    }
}
