using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Cli.LocalRun;

/// <summary>
/// Where the local run keeps its tools (Azurite) and caches: <c>{repository}/.tools</c> when it runs from a checkout
/// (what tests/install-prerequisites.sh uses too), else <c>~/.shortcut/tools</c>.
/// </summary>
public static class ToolsDirectory
{
    /// <summary>The environment variable naming an azurite executable to use instead.</summary>
    public const string AzuritePathVariable = "AZURITE_PATH";

    /// <summary>The file that marks the repository root.</summary>
    public const string SolutionFileName = "ShortcutPipeline.sln";

    /// <summary>The repository root above the working folder or the program, or null.</summary>
    public static string? RepositoryRoot() =>
        FindAbove(Environment.CurrentDirectory) ?? FindAbove(AppContext.BaseDirectory);

    /// <summary>The tools folder.</summary>
    public static string Path => RepositoryRoot() is { } root
        ? System.IO.Path.Combine(root, ".tools")
        : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".shortcut", "tools");

    /// <summary>The azurite executable: <see cref="AzuritePathVariable"/>, or the one in the tools folder, installed there first if missing.</summary>
    public static Task<string> FindOrInstallAzuriteAsync(TextWriter log, CancellationToken cancellationToken)
    {
        string? configured = Environment.GetEnvironmentVariable(AzuritePathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured)
                ? Task.FromResult(configured)
                : throw new FileNotFoundException($"{AzuritePathVariable} is set to {configured}, which does not exist.", configured);
        }

        return AzuriteEmulator.InstallAsync(Path, log, cancellationToken);
    }

    private static string? FindAbove(string start)
    {
        for (DirectoryInfo? directory = new(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, SolutionFileName)))
            {
                return directory.FullName;
            }
        }

        return null;
    }
}
