namespace ShortcutPipeline.Testing;

/// <summary>Paths inside the repository, found from the test's build output.</summary>
public static class RepositoryPaths
{
    /// <summary>The solution file that marks the repository root.</summary>
    public const string SolutionFileName = "ShortcutPipeline.sln";

    /// <summary>
    /// The repository root: the nearest folder above <see cref="AppContext.BaseDirectory"/> that holds
    /// <see cref="SolutionFileName"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No folder above the build output holds the solution.</exception>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFileName)))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException(
            $"No folder above {AppContext.BaseDirectory} holds {SolutionFileName}; run the tests from a checkout of the repository.");
    }
}
