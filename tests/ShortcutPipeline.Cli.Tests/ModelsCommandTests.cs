using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;
using ShortcutPipeline.Worker.Tests;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>`shortcut models register` and `models list` against a real Azurite, as the deploy guide uses them against Azure.</summary>
public sealed class ModelsCommandTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("cli-models-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task RegisteringTheEmbeddedModelAndAFileMakesVersionsThatJobsCanUse()
    {
        string prefix = AzuriteFixture.CreateIsolatedPrefix();
        string[] storage = ["--connection", azurite.ConnectionString, "--storage-prefix", prefix];
        var registry = new ModelRegistry(new PipelineStorage(PipelineStorageClients.FromConnectionString(azurite.ConnectionString), PipelineStorageOptions.WithPrefix(prefix)));

        var embedded = await CliRunner.RunAsync(["models", "register", "fashion", .. storage]);
        Assert.True(embedded.ExitCode == 0, embedded.Output + embedded.Errors);
        Assert.Contains("registered (DiT-Mini/4, 28x28, 10 classes", embedded.Output, StringComparison.Ordinal);
        ModelManifest first = (await registry.GetLatestAsync("fashion"))!.Manifest;
        Assert.StartsWith("sha256-", first.Version, StringComparison.Ordinal);
        Assert.Equal(10, first.NumClasses);

        // The same file again: nothing new.
        var again = await CliRunner.RunAsync(["models", "register", "fashion", .. storage]);
        Assert.Contains("registered before", again.Output, StringComparison.Ordinal);

        // Another file as a named version, not promoted: the latest stays, the version can be pinned.
        var other = await CliRunner.RunAsync(["models", "register", "fashion", "--file", TestModels.Tiny, "--version", "tiny-1", "--no-promote", .. storage]);
        Assert.True(other.ExitCode == 0, other.Output + other.Errors);
        Assert.Contains("not the latest", other.Output, StringComparison.Ordinal);
        Assert.Equal(first.Version, (await registry.GetLatestAsync("fashion"))!.Manifest.Version);
        Assert.NotNull(await registry.GetVersionAsync("fashion", "tiny-1"));

        var list = await CliRunner.RunAsync(["models", "list", "fashion", .. storage]);
        string[] lines = list.Output.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"* {first.Version}", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("  tiny-1", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATakenVersionAFileThatIsNoCheckpointAndABadNameAreRefusedClearly()
    {
        string prefix = AzuriteFixture.CreateIsolatedPrefix();
        string[] storage = ["--connection", azurite.ConnectionString, "--storage-prefix", prefix];
        Assert.Equal(0, (await CliRunner.RunAsync(["models", "register", "m", "--file", TestModels.Tiny, "--version", "v1", .. storage])).ExitCode);

        var taken = await CliRunner.RunAsync(["models", "register", "m", "--file", TestModels.Slow, "--version", "v1", .. storage]);
        Assert.Equal(2, taken.ExitCode);
        Assert.Contains("versions are immutable", taken.Errors, StringComparison.Ordinal);

        string text = Path.Combine(folder, "not-a-model.safetensors");
        await File.WriteAllTextAsync(text, "hello");
        var notModel = await CliRunner.RunAsync(["models", "register", "m", "--file", text, .. storage]);
        Assert.Equal(2, notModel.ExitCode);
        Assert.StartsWith("shortcut: ", notModel.Errors, StringComparison.Ordinal);

        var badName = await CliRunner.RunAsync(["models", "register", "bad name!", "--file", TestModels.Tiny, .. storage]);
        Assert.Equal(2, badName.ExitCode);
        Assert.Contains("not a valid model name", badName.Errors, StringComparison.Ordinal);

        var missing = await CliRunner.RunAsync(["models", "list", "nothing-here", .. storage]);
        Assert.Equal(1, missing.ExitCode);
    }
}
