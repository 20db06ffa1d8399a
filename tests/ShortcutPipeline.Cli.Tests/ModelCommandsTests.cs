using System.Text.Json;
using ShortcutPipeline.Cli;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;
using SixLabors.ImageSharp;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>train, sample, eval and bench, run in-process on real Fashion-MNIST with a tiny model.</summary>
public sealed class ModelCommandsTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cli-tests-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static Task<int> Run(params string[] args) => ShortcutCli.InvokeAsync(args);

    private async Task<string> TrainTinyAsync(string name, int steps, string objective = "shortcut")
    {
        string run = Path.Combine(directory, name);
        int code = await Run("train", "--preset", "DiT-Tiny/2", "--input-size", "8", "--steps", steps.ToString(), "--batch-size", "8",
            "--lr", "1e-3", "--checkpoint-every", "2", "--grid-budgets", "1,2", "--objective", objective, "--device", "cpu", "--out", run);
        Assert.Equal(0, code);
        return run;
    }

    [Fact]
    public async Task TrainWritesCheckpointsGridsAndLossCurveAndResumesToANewTotal()
    {
        string run = await TrainTinyAsync("run", steps: 4);
        Assert.True(File.Exists(Path.Combine(run, "step-4.safetensors")));
        Assert.True(File.Exists(Path.Combine(run, "step-4.sampling.safetensors")));
        Assert.True(File.Exists(Path.Combine(run, "step-2.grid.png")));
        var info = Checkpoint.ReadInfo(Path.Combine(run, "step-4.safetensors"));
        Assert.Equal(4, info.Step);
        Assert.Equal(FashionMnistNames, info.Config.ClassNames);
        using (var grid = Image.Load(Path.Combine(run, "step-4.grid.png")))
        {
            Assert.Equal(2 * 8 + 3 * 2, grid.Height);   // two budgets, 8x8 images, 2-pixel padding
        }
        Assert.Equal(["step", "1", "2", "3", "4"], File.ReadAllLines(Path.Combine(run, "loss.csv")).Select(l => l.Split(',')[0]));

        // The same folder with a larger total resumes from step 4.
        await TrainTinyAsync("run", steps: 6);
        Assert.Equal(6, Checkpoint.ReadInfo(Path.Combine(run, "step-6.safetensors")).Step);
        Assert.Equal(7, File.ReadAllLines(Path.Combine(run, "loss.csv")).Length);
        Assert.False(File.Exists(Path.Combine(run, "step-2.safetensors")), "old training checkpoints are pruned");
    }

    private static readonly string[] FashionMnistNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Bag", "Sneaker", "Ankle boot"];

    [Fact]
    public async Task SampleWritesPngsWithMetadataAndAGrid()
    {
        string run = await TrainTinyAsync("sample-run", steps: 2);
        string output = Path.Combine(directory, "samples");
        Assert.Equal(0, await Run("sample", "--model", Path.Combine(run, "step-2.sampling.safetensors"), "--steps", "1,4",
            "--labels", "0,9", "--per-label", "2", "--seed", "5", "--device", "cpu", "--out", output));
        var files = Directory.GetFiles(Path.Combine(output, "4-steps"), "*.png").Order().ToList();
        Assert.Equal(4, files.Count);
        var text = PngWriter.ReadTextChunks(File.ReadAllBytes(files[3]));
        Assert.Equal("Ankle boot", text["class"]);
        Assert.Equal("8", text["seed"]);
        Assert.Equal("4", text["steps"]);
        Assert.True(File.Exists(Path.Combine(output, "grid.png")));
    }

    [Fact]
    public async Task EvalWritesTheQualityTableAndPlot()
    {
        string shortcut = await TrainTinyAsync("eval-shortcut", steps: 2);
        string flow = await TrainTinyAsync("eval-flow", steps: 2, objective: "flow-matching");
        string output = Path.Combine(directory, "eval");
        Assert.Equal(0, await Run("eval", "--model", $"shortcut={Path.Combine(shortcut, "step-2.sampling.safetensors")}",
            "--model", $"flow-matching={Path.Combine(flow, "step-2.safetensors")}", "--budgets", "1,2", "--samples", "40",
            "--classifier-steps", "5", "--device", "cpu", "--out", output));
        var csv = File.ReadAllLines(Path.Combine(output, "quality.csv"));
        Assert.Equal(5, csv.Length);
        Assert.Contains(csv, l => l.StartsWith("flow-matching,2,", StringComparison.Ordinal));
        var table = File.ReadAllText(Path.Combine(output, "quality.md"));
        Assert.Contains("| shortcut |", table);
        using var plot = Image.Load(Path.Combine(output, "quality.png"));
        Assert.True(plot.Width > 0);
        Assert.True(File.Exists(Path.Combine(output, "classifier.safetensors")), "the feature classifier is saved for the next eval");
    }

    [Fact]
    public async Task ExportWritesTheEmaWeightsInBfloat16AtHalfTheSize()
    {
        string run = await TrainTinyAsync("export-run", steps: 2);
        string export = Path.Combine(directory, "model.safetensors");
        Assert.Equal(0, await Run("export", "--checkpoint", Path.Combine(run, "step-2.safetensors"), "--dtype", "bfloat16", "--out", export));
        var info = Checkpoint.ReadInfo(export);
        Assert.Equal((2L, false, Checkpoint.SamplingKind), (info.Step, info.HasTrainingState, info.Kind));
        long floatSize = new FileInfo(Path.Combine(run, "step-2.sampling.safetensors")).Length;
        Assert.InRange(new FileInfo(export).Length, floatSize / 2 - 4096, floatSize / 2 + 4096);
        using var model = Checkpoint.LoadForSampling(export);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, model.parameters().First().dtype);

        var (code, _, errors) = await CliRunner.RunAsync("export", "--checkpoint", export, "--out", Path.Combine(directory, "again.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("cannot be resumed", errors);
    }

    [Fact]
    public async Task BenchWritesItsFigures()
    {
        string json = Path.Combine(directory, "bench.json");
        Assert.Equal(0, await Run("bench", "--preset", "DiT-Tiny/2", "--input-size", "8", "--budgets", "1,2", "--batch-sizes", "1,4",
            "--memory-batches", "20", "--train-steps", "2", "--device", "cpu", "--out", json));
        using var report = JsonDocument.Parse(File.ReadAllText(json));
        var root = report.RootElement;
        Assert.Equal(4, root.GetProperty("Sampler").GetArrayLength());
        Assert.All(root.GetProperty("Sampler").EnumerateArray(), f => Assert.True(f.GetProperty("ImagesPerSecond").GetDouble() > 0));
        Assert.True(root.GetProperty("MatmulGflopPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("TrainingImagesPerSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("PeakRssMiB").GetDouble() >= root.GetProperty("RssAtEndMiB").GetDouble() - 1);
    }

    [Fact]
    public async Task BadArgumentsFailWithAMessage()
    {
        var (code, _, errors) = await CliRunner.RunAsync("train", "--preset", "DiT-Huge/1", "--out", Path.Combine(directory, "bad"));
        Assert.Equal(2, code);
        Assert.Contains("Unknown model preset", errors);
    }
}
