using ShortcutPipeline.Contracts;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;
using ShortcutPipeline.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>Small real models (trained a few steps on random images, exported for sampling), made once per test run.</summary>
internal static class TestModels
{
    private static readonly string Folder = Directory.CreateTempSubdirectory("worker-test-models-").FullName;
    private static readonly Lazy<string> TinyFile = new(() => Train(DiT.Tiny(8) with { HiddenSize = 32, Depth = 2, NumHeads = 2 }, "tiny8"));
    private static readonly Lazy<string> SlowFile = new(() => Train(DiT.Tiny(16), "tiny16"));

    static TestModels() => AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(Folder, recursive: true);

    /// <summary>An 8x8 gray model with 10 named classes: milliseconds per batch.</summary>
    public static string Tiny => TinyFile.Value;

    /// <summary>A 16x16 model a few times bigger: a batch of 8 images at 64 steps takes about a second on an idle CPU.</summary>
    public static string Slow => SlowFile.Value;

    /// <summary>A test pipeline (on <paramref name="time"/>) with <see cref="Tiny"/> registered as "tiny" "v1", the latest.</summary>
    public static async Task<TestPipeline> PipelineWithTinyAsync(AzuriteFixture azurite, TimeProvider? time = null)
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite, time);
        await RegisterAsync(pipeline, Tiny);
        return pipeline;
    }

    /// <summary>Uploads the model file as <paramref name="model"/> <paramref name="version"/> and makes it the latest.</summary>
    public static async Task<ModelManifest> RegisterAsync(
        TestPipeline pipeline, string path, string model = "tiny", string version = "v1", int? numClasses = 10)
    {
        await using FileStream file = File.OpenRead(path);
        ModelManifestEntry? latest = await pipeline.Registry.GetLatestAsync(model);
        PromotionResult result = await pipeline.Registry.UploadAndPromoteAsync(model, version, file, latest?.ETag, numClasses);
        Assert.True(result.Promoted);
        return result.Latest!.Manifest;
    }

    private static string Train(DiTConfig config, string name)
    {
        string path = Path.Combine(Folder, name + ".safetensors");
        var classNames = Enumerable.Range(0, config.NumClasses).Select(i => $"class-{i}").ToList();
        using var generator = new Generator(5);
        using var data = new ImageDataset(
            randint(0, 256, [32, config.InChannels, config.InputSize, config.InputSize], dtype: ScalarType.Byte, generator: generator),
            randint(0, config.NumClasses, [32], generator: generator), classNames);
        // adaLN-Zero starts at a zero output: a few steps with a fast EMA make the model's output matter.
        using var trainer = new Model.Trainer(config with { ClassNames = classNames },
            new TrainingConfig { BatchSize = 8, LearningRate = 3e-3, EmaDecay = 0.5, Seed = 3 });
        for (int i = 0; i < 6; i++)
        {
            trainer.TrainStep(data);
        }

        Checkpoint.ExportForSampling(trainer, path);
        return path;
    }
}
