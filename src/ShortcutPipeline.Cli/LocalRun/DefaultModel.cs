using ShortcutPipeline.Contracts;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;
using static TorchSharp.torch;

namespace ShortcutPipeline.Cli.LocalRun;

/// <summary>
/// The model of the local run: a small Fashion-MNIST shortcut model made by <c>shortcut train</c>, embedded in this
/// program as a sampling export (resource <see cref="ResourceName"/>). A build without it trains one on the first
/// run instead (<see cref="TrainFallbackAsync"/>: the same training loop, with a progress bar) and keeps it for later runs.
/// </summary>
public static class DefaultModel
{
    /// <summary>The model name the local run registers it under (the example jobs ask for it).</summary>
    public const string ModelName = "fashion";

    /// <summary>The embedded sampling export.</summary>
    public const string ResourceName = "ShortcutPipeline.Cli.DefaultModel.fashion-mnist.safetensors";

    /// <summary>
    /// The embedded model's architecture, which the fallback trains too: DiT-Mini/4, Fashion-MNIST at its native 28x28.
    /// The embedded file was made by (see DefaultModel/README.md):
    /// <c>shortcut train --preset DiT-Mini/4 --steps 2000 --batch-size 64 --lr 1e-3 --seed 0 --out runs/default-model</c>.
    /// </summary>
    public static DiTConfig FallbackConfig { get; } = DiT.Mini() with
    {
        NumClasses = FashionMnist.ClassNames.Count,
        ClassNames = FashionMnist.ClassNames,
    };

    /// <summary>The embedded model's bytes, or null when this build has none.</summary>
    public static byte[]? ReadEmbedded()
    {
        using Stream? resource = typeof(DefaultModel).Assembly.GetManifestResourceStream(ResourceName);
        if (resource is null)
        {
            return null;
        }

        using var copy = new MemoryStream();
        resource.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// Trains the fallback model on Fashion-MNIST for <paramref name="steps"/> steps into
    /// <paramref name="runDirectory"/> (a resumable run folder: an interrupted run continues) unless it is there
    /// already, and returns its sampling export.
    /// </summary>
    public static async Task<string> TrainFallbackAsync(
        string runDirectory, long steps, Device device, TextWriter log, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        string export = Path.Combine(runDirectory, TrainingLoop.SamplingName(steps));
        if (File.Exists(export))
        {
            return export;
        }

        log.WriteLine($"This build has no embedded model: training a {FallbackConfig.Name} on Fashion-MNIST for {steps} steps into {runDirectory} (once; later runs reuse it).");
        using ImageDataset data = await DatasetSource.OpenAsync(DatasetSource.FashionMnistName, FallbackConfig.InputSize, FallbackConfig.InChannels,
            cancellationToken: cancellationToken).ConfigureAwait(false);
        string? latest = TrainingLoop.LatestCheckpoint(runDirectory);
        using Model.Trainer trainer = latest is not null
            ? Checkpoint.Resume(latest, device)
            : new Model.Trainer(FallbackConfig, new TrainingConfig { BatchSize = 64, LearningRate = 1e-3, Seed = 0 }, device);
        using var bar = new ConsoleProgress("train", steps, start: trainer.Step);
        IProgress<TrainingProgress> progress = bar.TrainingReporter();
        await TrainingLoop.RunAsync(trainer, data, new TrainingLoopOptions
        {
            OutputDirectory = runDirectory,
            TotalSteps = steps,
            CheckpointEvery = (int)Math.Min(int.MaxValue, Math.Max(100, steps / 4)),   // each checkpoint also samples a grid
        }, progress, null, cancellationToken).ConfigureAwait(false);
        return export;
    }

    /// <summary>
    /// Registers <paramref name="checkpoint"/> (a sampling export) as <see cref="ModelName"/>, version
    /// <c>default-{first 12 hex digits of its SHA-256}</c>, and promotes it when the model has no latest version yet.
    /// </summary>
    public static async Task<ModelManifest> RegisterAsync(ModelRegistry registry, byte[] checkpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        Registration registration = await ModelRegistration.RegisterAsync(
            registry, ModelName, () => new MemoryStream(checkpoint, writable: false), version: null, Promotion.IfNoneYet, cancellationToken,
            versionPrefix: "default").ConfigureAwait(false);
        return registration.Manifest;
    }
}
