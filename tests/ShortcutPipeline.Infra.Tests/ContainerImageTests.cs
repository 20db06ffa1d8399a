using System.Text.RegularExpressions;
using ShortcutPipeline.Infra.Tests.Tooling;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>
/// The Dockerfile and the publish scripts (Docker cannot run here, so the images are not built): every
/// path they use exists, and they build what the stacks deploy.
/// The image and Functions cases need src/ShortcutPipeline.Cli and functions/ShortcutPipeline.Functions.csproj: they
/// fail on a branch without those projects.
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

    [Fact]
    public void TheDockerfilePublishesTheCommandLineWithTheCudaBackendAndRunsIt()
    {
        string text = File.ReadAllText(Dockerfile);
        Match publish = PublishCommand().Match(text);

        // One image for the worker and the trainer: `shortcut worker` and `shortcut trainer`, the stacks give the command.
        Assert.True(publish.Success, "the Dockerfile has no dotnet publish of a project");
        Assert.Contains("-p:TorchBackend=cuda", publish.Value, StringComparison.Ordinal);
        Assert.Equal("src/ShortcutPipeline.Cli/ShortcutPipeline.Cli.csproj", publish.Groups["project"].Value);
        Assert.True(File.Exists(Path.Combine(RepositoryPaths.Root, publish.Groups["project"].Value)));
        Assert.Matches(@"(?m)^ENTRYPOINT\s+\[""dotnet"",\s*""/app/shortcut\.dll""\]\s*$", FinalStage());
    }

    [Fact]
    public void TheRuntimeImageIsTheDotnet10RuntimeOnUbuntu2404WithNoSecondCudaRuntime()
    {
        string text = File.ReadAllText(Dockerfile);
        List<string> stages = FromLine().Matches(text).Select(match => match.Groups["image"].Value).ToList();

        // TorchSharp-cuda-linux's libtorch packages carry the CUDA runtime, cuBLAS and cuDNN libraries themselves;
        // an nvidia/cuda base would add ~3 GB of the same libraries. The driver comes from the host (NVIDIA container runtime).
        Assert.Equal("mcr.microsoft.com/dotnet/runtime:10.0-noble", stages[^1]);
        Assert.DoesNotContain(stages, image => image.StartsWith("nvidia/", StringComparison.Ordinal));
        Assert.Matches(@"(?m)^(ENV)?\s+NVIDIA_VISIBLE_DEVICES=all\b", FinalStage());
        Assert.Matches(@"(?m)^(ENV)?\s+NVIDIA_DRIVER_CAPABILITIES=compute,utility\b", FinalStage());
    }

    [Fact]
    public void TheImageRunsAsTheRuntimeImagesNonRootUser()
    {
        string finalStage = FinalStage();
        Match user = Regex.Matches(finalStage, @"(?m)^USER\s+(?<user>\S+)\s*$").LastOrDefault()
            ?? throw new Xunit.Sdk.XunitException("the final stage sets no USER: it would run as root");

        // The .NET images define the user app with the uid in APP_UID (1654).
        Assert.Equal("$APP_UID", user.Groups["user"].Value);
    }

    [Fact]
    public void TheImageExposesTheHealthPortTheStacksProbe()
    {
        // The worker's and trainer's health server (ShortcutPipeline__Health__Port, default 8080; DeployDayOneTests checks the stacks).
        Assert.Matches(@"(?m)^EXPOSE\s+8080\s*$", FinalStage());
    }

    [Theory]
    [InlineData("--local", new[]
    {
        "az acr show --name crtest --query loginServer --output tsv",
        "az acr login --name crtest",
        "docker build --platform linux/amd64 --file CONTEXT/infra/docker/gpu-app.Dockerfile --tag crtest.azurecr.io/shortcut:v7 CONTEXT",
        "docker push crtest.azurecr.io/shortcut:v7",
    })]
    [InlineData("", new[]
    {
        "az acr build --registry crtest --image shortcut:v7 --file infra/docker/gpu-app.Dockerfile --timeout 7200 CONTEXT",
    })]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task TheImageScriptBuildsTheImageInTheRegistryOrLocallyAndPushesIt(string mode, string[] expected)
    {
        // Neither Docker nor the Azure CLI can run here: stand-ins on PATH record each call, answer `az acr show`
        // with a login server, and check that the build context is an export of the repository.
        using var tools = new TempDirectory("shortcut-build-tools-");
        string calls = Path.Combine(tools.Path, "calls.log");
        string standIn = $$"""
            #!/usr/bin/env bash
            context="${@: -1}"
            if [[ "$*" == *" build "* || "$1" == build ]]; then
              [[ -f "$context/src/ShortcutPipeline.Cli/ShortcutPipeline.Cli.csproj" && -f "$context/infra/docker/gpu-app.Dockerfile" ]] || { echo "no repository export at $context" >&2; exit 9; }
              set -- "${@/$context/CONTEXT}"
            fi
            echo "$(basename "$0") $*" >> '{{calls}}'
            [[ "$1 $2" == "acr show" ]] && echo crtest.azurecr.io
            exit 0
            """;
        foreach (string tool in new[] { "az", "docker" })
        {
            string path = Path.Combine(tools.Path, tool);
            File.WriteAllText(path, standIn.Replace("\r\n", "\n", StringComparison.Ordinal));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        string[] arguments = [Path.Combine(RepositoryLayout.ScriptsDirectory, "build-images.sh"), .. mode.Length > 0 ? [mode] : Array.Empty<string>(), "crtest", "v7"];

        ProcessResult result = await ExternalProcess.RunAsync("bash", arguments, RepositoryPaths.Root, CancellationToken.None,
            new Dictionary<string, string> { ["PATH"] = $"{tools.Path}:{Environment.GetEnvironmentVariable("PATH")}" });

        Assert.True(result.ExitCode == 0, result.StandardError + result.StandardOutput);
        Assert.Equal(expected, File.ReadAllLines(calls));
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
    public void TheImageScriptBuildsTheImageThatBothStacksDeploy()
    {
        string script = File.ReadAllText(Path.Combine(RepositoryLayout.ScriptsDirectory, "build-images.sh"));
        string bicep = string.Concat(Directory.EnumerateFiles(RepositoryLayout.BicepDirectory, "*.bicep", SearchOption.AllDirectories).Select(File.ReadAllText));
        string terraform = string.Concat(Directory.EnumerateFiles(RepositoryLayout.TerraformDirectory, "*.tf").Select(File.ReadAllText));

        Assert.Contains("--file infra/docker/gpu-app.Dockerfile", script, StringComparison.Ordinal);
        Assert.Contains("image=\"shortcut:$tag\"", script, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Matches(bicep, "/shortcut:").Count);
        Assert.Equal(2, Regex.Matches(terraform, "/shortcut:").Count);
        Assert.DoesNotContain("/shortcut-worker:", bicep + terraform, StringComparison.Ordinal);
        Assert.DoesNotContain("/shortcut-trainer:", bicep + terraform, StringComparison.Ordinal);
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

    private static string FinalStage()
    {
        string text = File.ReadAllText(Dockerfile);
        return text[FromLine().Matches(text)[^1].Index..];
    }

    [GeneratedRegex(@"(?m)^FROM\s+(?<image>\S+)")]
    private static partial Regex FromLine();

    [GeneratedRegex(@"^COPY\s+(?!--from)(?<arguments>.+)$")]
    private static partial Regex CopyFromContext();

    [GeneratedRegex(@"dotnet publish ""(?<project>[^""]+\.csproj)""(?:\\\n|[^\n])*")]
    private static partial Regex PublishCommand();
}
