namespace Spillway.Spill.Tests;

/// <summary>check-config's spill directory check: a directory held by a running log, the disk's room, nothing created.</summary>
public sealed class SpillCheckTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("spillway-spillcheck-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_directory_to_be_made_passes_and_is_not_made()
    {
        var directory = Path.Combine(_root, "a", "spill");
        var report = SpillCheck.Check(new SpillOptions { Directory = directory, MaxBytes = 1L << 20 });
        Assert.Empty(report.Problems);
        Assert.Empty(report.Warnings);
        Assert.False(Directory.Exists(Path.Combine(_root, "a")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root));
    }

    [Fact]
    public void A_directory_another_process_holds_is_refused_as_serve_would_refuse_it()
    {
        var directory = Path.Combine(_root, "spill");
        Directory.CreateDirectory(directory);
        using (OsFileSystem.Instance.Lock(SpillFiles.LockPath(directory)))
        {
            var problem = Assert.Single(SpillCheck.Check(new SpillOptions { Directory = directory }).Problems);
            Assert.StartsWith($"cannot open the spill log '{directory}': another process holds it", problem, StringComparison.Ordinal);
        }

        Assert.Empty(SpillCheck.Check(new SpillOptions { Directory = directory, MaxBytes = 1L << 20 }).Problems);
    }

    [Fact]
    public void A_budget_beyond_the_free_space_of_the_disk_is_a_warning_not_a_problem()
    {
        var report = SpillCheck.Check(new SpillOptions { Directory = Path.Combine(_root, "spill"), MaxBytes = long.MaxValue / 2 });
        Assert.Empty(report.Problems);
        var warning = Assert.Single(report.Warnings);
        Assert.Contains("is more than its filesystem has", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_where_the_directory_should_be_is_a_problem()
    {
        var file = Path.Combine(_root, "spill");
        File.WriteAllText(file, "not a directory");
        Assert.Equal($"the spill directory '{file}' is a file, not a directory", Assert.Single(SpillCheck.Check(new SpillOptions { Directory = file }).Problems));
    }
}
