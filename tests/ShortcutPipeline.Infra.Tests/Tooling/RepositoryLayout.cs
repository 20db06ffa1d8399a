using System.Reflection;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Infra.Tests.Tooling;

/// <summary>Where, inside the repository (<see cref="RepositoryPaths.Root"/>), its infrastructure and the tools that validate it are.</summary>
public static class RepositoryLayout
{
    public static string BicepDirectory => Path.Combine(RepositoryPaths.Root, "infra", "bicep");

    public static string TerraformDirectory => Path.Combine(RepositoryPaths.Root, "infra", "terraform");

    public static string DockerDirectory => Path.Combine(RepositoryPaths.Root, "infra", "docker");

    public static string ScriptsDirectory => Path.Combine(RepositoryPaths.Root, "infra", "scripts");

    /// <summary>npm packages that tests/install-prerequisites.sh installs into .tools/.</summary>
    public static string NodeModules => Path.Combine(RepositoryPaths.Root, ".tools", "node_modules");

    public static string Hcl2JsonPackage => RequireDirectory(
        Path.Combine(NodeModules, "@cdktf", "hcl2json"), "@cdktf/hcl2json");

    public static string AzurermProviderPackage => RequireDirectory(
        Path.Combine(NodeModules, "@cdktf", "provider-azurerm"), "@cdktf/provider-azurerm");

    /// <summary>The Bicep CLI from the Azure.Bicep.CommandLine.linux-x64 package that this project's restore downloads.</summary>
    public static string BicepExecutable
    {
        get
        {
            string path = Path.Combine(
                Metadata("NuGetPackageRoot"), "azure.bicep.commandline.linux-x64", Metadata("BicepCliVersion"), "tools", "bicep");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    $"The Bicep CLI is not at {path}: restore tests/ShortcutPipeline.Infra.Tests (dotnet restore).", path);
            }
            return path;
        }
    }

    /// <summary>A path relative to the repository root, with forward slashes.</summary>
    public static string Relative(string path) => Path.GetRelativePath(RepositoryPaths.Root, path).Replace('\\', '/');

    private static string RequireDirectory(string path, string package) =>
        Directory.Exists(path)
            ? path
            : throw new DirectoryNotFoundException(
                $"{package} is not installed at {path}: run tests/install-prerequisites.sh.");

    private static string Metadata(string key) =>
        typeof(RepositoryLayout).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(attribute => attribute.Key == key)?.Value
        ?? throw new InvalidOperationException($"The test assembly has no '{key}' metadata.");
}
