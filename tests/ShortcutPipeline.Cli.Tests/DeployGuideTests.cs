using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>
/// The deploy guide's first job (infra/README.md, the bash block after <see cref="Marker"/>) run as written,
/// with bash and the built `shortcut`, against Azurite: the commands that have a local meaning are the guide's
/// own, so the guide and this test cannot drift. Locally the storage is the connection-string setting instead
/// of the guide's identity-based ShortcutStorage__*ServiceUri ones, and the intake and the worker run in-process.
/// </summary>
public sealed partial class DeployGuideTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    /// <summary>The HTML comment in infra/README.md before the block this test runs.</summary>
    public const string Marker = "<!-- deploy-guide-test: first job -->";

    private readonly TempDirectory workingDirectory = new("deploy-guide-");

    public void Dispose() => workingDirectory.Dispose();

    [Fact]
    public void TheGuideEndsWithTheFirstJobsCommands()
    {
        IReadOnlyList<string> commands = GuideCommands();

        Assert.Collection(commands,
            register => Assert.StartsWith("shortcut models register fashion", register, StringComparison.Ordinal),
            enqueue => Assert.Matches(@"^JOB=\$\(shortcut enqueue infra/first-job\.json\)$", enqueue),
            wait => Assert.StartsWith("shortcut wait \"$JOB\"", wait, StringComparison.Ordinal),
            download => Assert.Matches(@"^shortcut download ""\$JOB"" --out (?<out>\S+)$", download));
        string readme = File.ReadAllText(ReadmePath);
        Assert.True(readme.IndexOf(Marker, StringComparison.Ordinal) > readme.IndexOf("## Deploy", StringComparison.Ordinal), "the first job comes after the deployment steps");
    }

    [Fact]
    public async Task TheGuidesFirstJobRunsAgainstAzuriteAndEndsWithItsPngs()
    {
        string prefix = AzuriteFixture.CreateIsolatedPrefix();
        PipelineStorageOptions names = PipelineStorageOptions.WithPrefix(prefix);
        await using LocalPipeline pipeline = await LocalPipeline.StartAsync(azurite.ConnectionString, names, worker =>
        {
            worker.Device = "cpu";
            worker.PollInterval = TimeSpan.FromMilliseconds(100);
            worker.ModelCacheDirectory = Path.Combine(workingDirectory.Path, "model-cache");
        }, LogLevel.Warning, CancellationToken.None);
        // The guide runs from the repository root; here its relative paths (infra/...) reach the repository and its outputs stay here.
        Directory.CreateSymbolicLink(Path.Combine(workingDirectory.Path, "infra"), Path.Combine(RepositoryPaths.Root, "infra"));

        IReadOnlyList<string> commands = GuideCommands();
        string script = "set -euo pipefail\n" + string.Join('\n', commands) + "\necho \"JOB=$JOB\"\n";

        (int exitCode, string output) = await RunBashAsync(script, Environment(names), TimeSpan.FromMinutes(5));

        Assert.True(exitCode == 0, output);
        string jobId = JobLine().Match(output).Groups["id"].Value;
        Assert.StartsWith("msg-", jobId, StringComparison.Ordinal);
        Assert.Equal(JobState.Completed, (await pipeline.Status.GetAsync(jobId))!.State);
        string downloaded = Path.Combine(workingDirectory.Path, DownloadFolder(), jobId);
        Assert.Equal([.. Enumerable.Range(0, 10).Select(index => $"{index}.png"), "contact-sheet.png"],
            Directory.GetFiles(downloaded).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(jobId, PngWriter.ReadTextChunks(File.ReadAllBytes(Path.Combine(downloaded, "9.png")))["jobId"]);
    }

    private static string ReadmePath => Path.Combine(RepositoryPaths.Root, "infra", "README.md");

    /// <summary>The lines of the bash block after <see cref="Marker"/>, comments and blank lines left out.</summary>
    private static IReadOnlyList<string> GuideCommands()
    {
        Match block = MarkedBlock().Match(File.ReadAllText(ReadmePath));
        Assert.True(block.Success, $"infra/README.md has no ```bash block after {Marker}");
        return block.Groups["body"].Value.Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToList();
    }

    private static string DownloadFolder() => Regex.Match(GuideCommands()[^1], @"--out (?<out>\S+)$").Groups["out"].Value;

    /// <summary>The built `shortcut` first on PATH, Azurite as the storage connection, and this test's storage names.</summary>
    private Dictionary<string, string> Environment(PipelineStorageOptions names)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = $"{RepositoryPaths.BuildOutput("src/ShortcutPipeline.Cli")}{Path.PathSeparator}{System.Environment.GetEnvironmentVariable("PATH")}",
            [SettingNames.StorageConnection] = azurite.ConnectionString,
        };
        foreach (PropertyInfo name in typeof(PipelineStorageOptions).GetProperties().Where(property => property.PropertyType == typeof(string)))
        {
            environment[$"{PipelineStorageOptions.SectionName.Replace(":", "__", StringComparison.Ordinal)}__{name.Name}"] = (string)name.GetValue(names)!;
        }
        return environment;
    }

    private async Task<(int ExitCode, string Output)> RunBashAsync(string script, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = workingDirectory.Path, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }
        using Process bash = Process.Start(start)!;
        await bash.StandardInput.WriteAsync(script);
        bash.StandardInput.Close();
        Task<string> output = bash.StandardOutput.ReadToEndAsync();
        Task<string> errors = bash.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await bash.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            bash.Kill(entireProcessTree: true);
            throw new TimeoutException($"The guide's commands did not finish in {timeout}: {await output}{await errors}");
        }
        return (bash.ExitCode, await output + await errors);
    }

    [GeneratedRegex(@"<!-- deploy-guide-test: first job -->\s*```bash\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex MarkedBlock();

    [GeneratedRegex(@"(?m)^JOB=(?<id>\S+)$")]
    private static partial Regex JobLine();
}
