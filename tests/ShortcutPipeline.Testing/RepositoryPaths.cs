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

    /// <summary>
    /// The build output of the project in <paramref name="projectFolder"/> (relative to <see cref="Root"/>, e.g.
    /// <c>src/ShortcutPipeline.Worker</c>) for the configuration and framework the tests themselves were built for:
    /// <c>{project}/bin/{configuration}/{framework}</c>, read from the last two folders of <see cref="AppContext.BaseDirectory"/>.
    /// </summary>
    public static string BuildOutput(string projectFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(projectFolder);
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        return Path.Combine(Root, projectFolder, "bin", framework.Parent!.Name, framework.Name);
    }

    /// <summary>
    /// The command line, <c>shortcut.dll</c>, in its build output: what the GPU image runs as <c>shortcut worker</c> and
    /// <c>shortcut trainer</c>, and a user as <c>shortcut serve</c>.
    /// </summary>
    public static string ShortcutAssembly => Path.Combine(BuildOutput(Path.Combine("src", "ShortcutPipeline.Cli")), "shortcut.dll");

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
