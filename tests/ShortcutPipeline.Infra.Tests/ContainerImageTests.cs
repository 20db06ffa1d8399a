using System.Text.RegularExpressions;
using ShortcutPipeline.Infra.Tests.Tooling;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>
/// The Dockerfile and the publish scripts (Docker cannot run here, so the images are not built): every
/// path they use exists, and they build what the stacks deploy.
/// The Worker, Trainer and Functions cases need src/ShortcutPipeline.Worker, src/ShortcutPipeline.Trainer and
/// functions/ShortcutPipeline.Functions.csproj: they fail on a branch without those projects.
/// </summary>
public sealed partial class ContainerImageTests
{
    private static readonly string Dockerfile = Path.Combine(RepositoryLayout.DockerDirectory, "gpu-app.Dockerfile");

    [Fact]
    public void EveryPathTheDockerfileCopiesFromTheContextExists()
    {
        var sources = File.ReadLines(Dockerfile)
            .Select(line => CopyFromContext().Match(line))
            .Where(match => match.Success)
            .SelectMany(match => match.Groups["arguments"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1))
            .ToList();

        Assert.NotEmpty(sources);
        Assert.All(sources, source => Assert.True(
            File.Exists(Path.Combine(RepositoryPaths.Root, source)) || Directory.Exists(Path.Combine(RepositoryPaths.Root, source)),
            $"COPY {source}: no such path in the repository"));
    }

    [Theory]
    [InlineData("Worker")]
    [InlineData("Trainer")]
    public void TheDockerfilePublishesTheAppsProjectWithTheCudaBackend(string app)
    {
        string text = File.ReadAllText(Dockerfile);
        Match publish = PublishCommand().Match(text);

        Assert.True(publish.Success, "the Dockerfile has no dotnet publish of a project");
        Assert.Contains("-p:TorchBackend=cuda", publish.Value, StringComparison.Ordinal);
        string project = publish.Groups["project"].Value.Replace("${APP}", app, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(RepositoryPaths.Root, project)), $"{project} does not exist");
    }

    [Fact]
    public void TheRuntimeImageIsCuda128OnUbuntu2404WithTheDotnet10Runtime()
    {
        string text = File.ReadAllText(Dockerfile);

        Assert.Matches(@"(?m)^FROM nvidia/cuda:12\.8\.\d+-runtime-ubuntu24\.04\s*$", text);
        Assert.Matches(@"(?m)^FROM mcr\.microsoft\.com/dotnet/runtime:10\.0-noble AS dotnet\s*$", text);
        Assert.Contains("COPY --from=dotnet /usr/share/dotnet /usr/share/dotnet", text, StringComparison.Ordinal);
    }

    [Fact]
    public void TheFunctionsPublishScriptPublishesTheFunctionsProject()
    {
        Match project = Regex.Match(File.ReadAllText(Path.Combine(RepositoryLayout.ScriptsDirectory, "publish-functions.sh")), @"project=""\$root/(?<path>[^""]+)""");

        Assert.True(project.Success, "publish-functions.sh names no project");
        Assert.Equal("functions/ShortcutPipeline.Functions.csproj", project.Groups["path"].Value);
        Assert.True(File.Exists(Path.Combine(RepositoryPaths.Root, project.Groups["path"].Value)), $"{project.Groups["path"].Value} does not exist");
    }

    [Fact]
    public void TheImageScriptBuildsTheImagesThatBothStacksDeploy()
    {
        string script = File.ReadAllText(Path.Combine(RepositoryLayout.ScriptsDirectory, "build-images.sh"));
        string bicep = string.Concat(Directory.EnumerateFiles(RepositoryLayout.BicepDirectory, "*.bicep", SearchOption.AllDirectories).Select(File.ReadAllText));
        string terraform = string.Concat(Directory.EnumerateFiles(RepositoryLayout.TerraformDirectory, "*.tf").Select(File.ReadAllText));

        Assert.Contains("--file infra/docker/gpu-app.Dockerfile", script, StringComparison.Ordinal);
        Assert.Contains("for app in Worker Trainer", script, StringComparison.Ordinal);
        Assert.Contains("image=\"shortcut-${app,,}:$tag\"", script, StringComparison.Ordinal);
        foreach (string image in new[] { "/shortcut-worker:", "/shortcut-trainer:" })
        {
            Assert.Contains(image, bicep, StringComparison.Ordinal);
            Assert.Contains(image, terraform, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("publish-functions.sh")]
    [InlineData("build-images.sh")]
    public async Task TheScriptIsValidBash(string script)
    {
        ProcessResult result = await ExternalProcess.RunAsync(
            "bash", ["-n", Path.Combine(RepositoryLayout.ScriptsDirectory, script)], RepositoryPaths.Root, CancellationToken.None);

        Assert.True(result.ExitCode == 0, result.StandardError);
    }

    [GeneratedRegex(@"^COPY\s+(?!--from)(?<arguments>.+)$")]
    private static partial Regex CopyFromContext();

    [GeneratedRegex(@"dotnet publish ""(?<project>[^""]+\.csproj)""(?:\\\n|[^\n])*")]
    private static partial Regex PublishCommand();
}
