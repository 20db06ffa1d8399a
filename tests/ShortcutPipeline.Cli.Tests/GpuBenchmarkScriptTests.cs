using System.Diagnostics;
using System.Text.Json;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>
/// tests/gpu/run-benchmarks.sh, the one call a session with a GPU makes (issue 9), run here on the CPU with its smoke-test
/// overrides: the built command line, the repository's Azurite, an untrained DiT-Tiny/2 and short loads. What only the
/// GPU machine has (CUDA, the packed .NET and Node) is what this cannot check.
/// </summary>
public sealed class GpuBenchmarkScriptTests : IDisposable
{
    private readonly string output = Directory.CreateTempSubdirectory("gpu-benchmarks-").FullName;

    public void Dispose() => Directory.Delete(output, recursive: true);

    [Fact]
    public async Task TheScriptRunsBothPipelineBenchmarksAndLeavesTheirFiguresInOut()
    {
        string shortcut = Path.Combine(RepositoryPaths.BuildOutput(Path.Combine("src", "ShortcutPipeline.Cli")), "shortcut.dll");
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryPaths.Root, "tests", "gpu", "run-benchmarks.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["OUT"] = output,
                ["SHORTCUT"] = $"dotnet {shortcut}",
                ["AZURITE_PATH"] = AzuriteServer.FindExecutable(),
                ["DEVICE"] = "cpu",
                ["PRESET"] = "DiT-Tiny/2",
                ["SERVING_ARGS"] = "--duration 2 --rate 4 --mix 1:0.5,4:0.5 --saturate-jobs 2",
                ["PIPELINE_ARGS"] = "--batches 2 --batch-size 8 --steps 1",
            },
        };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        string log = await stdout + await stderr;

        Assert.True(process.ExitCode == 0, log);
        Assert.Contains("=== serving:", log, StringComparison.Ordinal);
        Assert.Contains("=== pipeline:", log, StringComparison.Ordinal);
        foreach (string name in new[] { "serving", "pipeline" })
        {
            using JsonDocument figures = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, name + ".json")));
            Assert.Equal("DiT-Tiny/2", figures.RootElement.GetProperty("Model").GetString());
        }

        Assert.True(File.Exists(Path.Combine(output, "machine.txt")));
    }
}
