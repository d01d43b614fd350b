namespace Spillway.Testing;

/// <summary>The repository the tests were built from, for tests that check its documents against the code.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath));

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Spillway.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Spillway.slnx above {AppContext.BaseDirectory}");
    }
}
