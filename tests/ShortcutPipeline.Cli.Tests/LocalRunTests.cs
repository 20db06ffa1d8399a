using System.Text.Json;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;
using ShortcutPipeline.Worker.Tests;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>
/// `shortcut local` and the pipeline benchmarks as a user runs them (and tests/gpu/run-benchmarks.sh, which runs the
/// benchmarks): each starts its own Azurite (from the repository's .tools, as tests/install-prerequisites.sh installs
/// it), the intake and the worker.
/// </summary>
public sealed class LocalRunTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("cli-local-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task TheLocalRunTurnsJobsOfBudgetsOneFourAndOneHundredTwentyEightIntoPngsAndContactSheets()
    {
        string[] jobFiles = new[] { 1, 4, 128 }.Select(steps =>
        {
            string path = Path.Combine(folder, $"budget-{steps}.json");
            File.WriteAllText(path, $$"""{ "id": "run-{{steps}}", "model": { "name": "fashion" }, "classes": [ { "label": 0, "count": 2 }, { "label": 5, "count": 2 } ], "steps": {{steps}}, "seed": 9 }""");
            return path;
        }).ToArray();
        string output = Path.Combine(folder, "out");

        var run = await CliRunner.RunAsync(["local", "--model", TestModels.Tiny, "--device", "cpu", "--out", output, "--timeout", "00:05:00", "--jobs", .. jobFiles]);

        Assert.True(run.ExitCode == 0, run.Output + run.Errors);
        foreach (int steps in new[] { 1, 4, 128 })
        {
            Assert.Contains($"run-{steps}: completed, 4/4 images", run.Output, StringComparison.Ordinal);
            string jobFolder = Path.Combine(output, $"run-{steps}");
            Assert.Equal(5, Directory.GetFiles(jobFolder, "*.png").Length);
            IReadOnlyDictionary<string, string> text = PngWriter.ReadTextChunks(File.ReadAllBytes(Path.Combine(jobFolder, "3.png")));
            Assert.Equal(($"run-{steps}", $"{steps}", "class-5", "fashion"), (text["jobId"], text["steps"], text["class"], text["model"]));
        }

        // All jobs on one sheet: three rows of four 8x8 tiles, enlarged for viewing.
        using var sheet = SixLabors.ImageSharp.Image.Load(File.ReadAllBytes(Path.Combine(output, "contact-sheet.png")));
        int scale = ImageGrid.ViewingScale(8);
        Assert.Equal(((4 * 10 + 2) * scale, (3 * 10 + 2) * scale), (sheet.Width, sheet.Height));
        Assert.Matches(@"Worker: \d+ forward passes, [\d.]+ rows each on average, 12 images", run.Output);
    }

    /// <summary>
    /// The emulator stands in for a storage service on other machines, so on a machine whose cores the local sampler
    /// keeps busy it runs below normal priority (nice 10): the sampler comes first and Azurite answers in the gaps.
    /// </summary>
    [Fact]
    public void TheLocalStorageEmulatorRunsBelowNormalCpuPriority()
    {
        Assert.True(OperatingSystem.IsLinux(), "This test reads /proc.");
        string blobPort = AzuriteServer.Shared.Ports.Blob.ToString(System.Globalization.CultureInfo.InvariantCulture);

        // The node process (not its watchdog shell) whose arguments name this emulator's blob port.
        int[] azurite = Directory.GetDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => name!.All(char.IsAsciiDigit))
            .Select(name => int.Parse(name!, System.Globalization.CultureInfo.InvariantCulture))
            .Where(pid =>
            {
                string[] arguments = ReadProcFile(pid, "cmdline").Split('\0');
                return !arguments[0].EndsWith("sh", StringComparison.Ordinal)
                    && arguments.SkipWhile(a => a != "--blobPort").Skip(1).FirstOrDefault() == blobPort;
            })
            .ToArray();

        int pid = Assert.Single(azurite);
        // /proc/PID/stat: "pid (comm) state ..." with nice the 19th field, the 17th after the closing parenthesis.
        string stat = ReadProcFile(pid, "stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal("10", fields[16]);
    }

    private static string ReadProcFile(int pid, string name)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/{name}");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return "";   // the process ended meanwhile, or is not ours to read
        }
    }

    [Fact]
    public async Task BenchPipelineReportsEndToEndAndBareSamplerImagesPerSecondAndTheirRatio()
    {
        string report = Path.Combine(folder, "bench.json");

        var run = await CliRunner.RunAsync(
            "bench-pipeline", "--model", TestModels.Tiny, "--device", "cpu", "--batch-size", "16", "--steps", "2", "--batches", "2", "--threads", "1", "--out", report);

        Assert.True(run.ExitCode == 0, run.Output + run.Errors);
        Assert.Contains("1 sampler threads of", run.Output, StringComparison.Ordinal);
        Assert.Matches(@"Warm-up round 2: \.NET compiled \d+ methods\.", run.Errors);   // progress goes to stderr
        Assert.Contains("bare sampler:", run.Output, StringComparison.Ordinal);
        Assert.Contains("end to end via Azurite:", run.Output, StringComparison.Ordinal);
        using JsonDocument figures = JsonDocument.Parse(File.ReadAllText(report));
        JsonElement root = figures.RootElement;
        double sampler = root.GetProperty("SamplerImagesPerSecond").GetDouble();
        double pipeline = root.GetProperty("PipelineImagesPerSecond").GetDouble();
        Assert.True(sampler > 0 && pipeline > 0);
        Assert.Equal(pipeline / sampler, root.GetProperty("Ratio").GetDouble(), 6);
        Assert.Equal((32, 16), (root.GetProperty("Images").GetInt32(), root.GetProperty("BatchSize").GetInt32()));
        Assert.Equal(1, root.GetProperty("SamplerThreads").GetInt32());
        // Two jobs of 16 images at 2 steps, with a row limit of 16: four full forward passes.
        Assert.Equal((4, 16.0), (root.GetProperty("WorkerPasses").GetInt64(), root.GetProperty("MeanRowsPerPass").GetDouble()));
    }

    [Fact]
    public async Task BenchServingTimesALatentSpaceModelThroughAVaeDecoderOfTheStableDiffusionShape()
    {
        // A latent model without --vae: the benchmark decodes through a randomly initialised decoder of the SD VAE's
        // shape (the same work per image as the real weights), so a latent preset such as DiT-B/2 can be timed anywhere.
        string latent = Path.Combine(folder, "latent.safetensors");
        using (var trainer = new Model.Trainer(Model.DiT.Tiny(4, inChannels: 4) with { HiddenSize = 32, Depth = 1, NumHeads = 2, Space = "latent" }, new Contracts.TrainingConfig()))
        {
            Model.Checkpoint.ExportForSampling(trainer, latent);
        }

        string report = Path.Combine(folder, "latent-serving.json");
        var run = await CliRunner.RunAsync(
            "bench-serving", "--model", latent, "--device", "cpu", "--max-rows-per-pass", "4", "--rate", "4", "--duration", "2",
            "--mix", "1:0.5,2:0.5", "--saturate-jobs", "2", "--saturate-images-per-job", "4", "--out", report);

        Assert.True(run.ExitCode == 0, run.Output + run.Errors);
        Assert.Contains("random weights", run.Errors, StringComparison.Ordinal);
        using JsonDocument figures = JsonDocument.Parse(File.ReadAllText(report));
        Assert.All(figures.RootElement.GetProperty("Phases").EnumerateArray(), p => Assert.Equal(0, p.GetProperty("FailedJobs").GetInt32()));
    }

    [Fact]
    public async Task BenchPipelineTimesTheNamedPresetInsteadOfTheEmbeddedModel()
    {
        string report = Path.Combine(folder, "preset.json");

        var run = await CliRunner.RunAsync(
            "bench-pipeline", "--preset", "DiT-Tiny/2", "--device", "cpu", "--batch-size", "4", "--steps", "1", "--batches", "2", "--out", report);

        Assert.True(run.ExitCode == 0, run.Output + run.Errors);
        using JsonDocument figures = JsonDocument.Parse(File.ReadAllText(report));
        Assert.Equal("DiT-Tiny/2", figures.RootElement.GetProperty("Model").GetString());
    }

    [Fact]
    public async Task ThePipelineBenchmarksRefuseBothAModelFileAndAPreset()
    {
        var run = await CliRunner.RunAsync("bench-serving", "--model", TestModels.Tiny, "--preset", "DiT-Tiny/2", "--device", "cpu");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("--model and --preset each name the model to time", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BenchServingRefusesALoadTooShortToHaveJobsBelowTheLargestBudget()
    {
        var run = await CliRunner.RunAsync(
            "bench-serving", "--model", TestModels.Tiny, "--device", "cpu", "--rate", "1", "--duration", "0.01");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("raise --rate or --duration", run.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BenchServingReportsLatencyPerBudgetRowsPerPassAndTheBaselineInOneRun()
    {
        string report = Path.Combine(folder, "serving.json");

        var run = await CliRunner.RunAsync(
            "bench-serving", "--model", TestModels.Tiny, "--device", "cpu", "--max-rows-per-pass", "8", "--rate", "6", "--duration", "3",
            "--mix", "1:0.5,4:0.25,16:0.25", "--saturate-jobs", "6", "--saturate-images-per-job", "8", "--out", report);

        Assert.True(run.ExitCode == 0, run.Output + run.Errors);
        Assert.Contains("1-step p95 with the 16-step jobs in the mix / without them:", run.Output, StringComparison.Ordinal);
        using JsonDocument figures = JsonDocument.Parse(File.ReadAllText(report));
        JsonElement root = figures.RootElement;
        JsonElement[] phases = root.GetProperty("Phases").EnumerateArray().ToArray();
        Assert.Equal(["Continuous", "Continuous", "BudgetBatches"], phases.Select(p => p.GetProperty("Scheduling").GetString()));
        Assert.All(phases, p => Assert.Equal(0, p.GetProperty("FailedJobs").GetInt32()));
        // The second phase is the first one's arrivals without the largest budget.
        int[] budgetsWithout = phases[1].GetProperty("Budgets").EnumerateArray().Select(b => b.GetProperty("Steps").GetInt32()).ToArray();
        Assert.DoesNotContain(16, budgetsWithout);
        Assert.Equal(phases[0].GetProperty("Jobs").GetInt32(),
            phases[1].GetProperty("Jobs").GetInt32() + phases[0].GetProperty("Budgets").EnumerateArray().Where(b => b.GetProperty("Steps").GetInt32() == 16).Sum(b => b.GetProperty("Jobs").GetInt32()));
        Assert.All(phases[0].GetProperty("Budgets").EnumerateArray(), b =>
            Assert.True(b.GetProperty("P50Milliseconds").GetDouble() <= b.GetProperty("P95Milliseconds").GetDouble()));
        Assert.InRange(root.GetProperty("SaturatedMeanRowsPerPass").GetDouble(), 1, 8);
        Assert.Equal(8, root.GetProperty("RowLimit").GetInt32());
    }

    /// <summary>
    /// tests/gpu/run-benchmarks.sh, the one call a session with a GPU makes (issue 9), run here on the CPU with its
    /// smoke-test overrides: the built command line, the repository's Azurite, an untrained DiT-Tiny/2 and short loads.
    /// What only the GPU machine has (CUDA, the packed .NET and Node) is what this cannot check.
    /// </summary>
    [Fact]
    public async Task TheGpuBenchmarkScriptRunsBothPipelineBenchmarksAndLeavesTheirFiguresInOut()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        ProcessResult run = await ExternalProcess.RunAsync(
            "bash", [Path.Combine(RepositoryPaths.Root, "tests", "gpu", "run-benchmarks.sh")], RepositoryPaths.Root, timeout.Token,
            new Dictionary<string, string>
            {
                ["OUT"] = folder,
                ["SHORTCUT"] = $"dotnet {RepositoryPaths.ShortcutAssembly}",
                ["AZURITE_PATH"] = AzuriteServer.FindExecutable(),
                ["DEVICE"] = "cpu",
                ["PRESET"] = "DiT-Tiny/2",
                ["SERVING_ARGS"] = "--duration 2 --rate 4 --mix 1:0.5,4:0.5 --saturate-jobs 2",
                ["PIPELINE_ARGS"] = "--batches 2 --batch-size 8 --steps 1",
            });
        string log = run.StandardOutput + run.StandardError;

        Assert.True(run.ExitCode == 0, log);
        Assert.Contains("=== serving:", log, StringComparison.Ordinal);
        Assert.Contains("=== pipeline:", log, StringComparison.Ordinal);
        foreach (string name in new[] { "serving", "pipeline" })
        {
            using JsonDocument figures = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, name + ".json")));
            Assert.Equal("DiT-Tiny/2", figures.RootElement.GetProperty("Model").GetString());
        }

        Assert.True(File.Exists(Path.Combine(folder, "machine.txt")));
    }
}
