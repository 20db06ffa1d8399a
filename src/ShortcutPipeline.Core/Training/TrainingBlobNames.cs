using System.Globalization;

namespace ShortcutPipeline.Core.Training;

/// <summary>
/// The blob names of a training run in the checkpoints container (<see cref="StorageNames.CheckpointsContainer"/>),
/// all under <c>{model}/{runId}/</c>: the resumable checkpoints <c>step-{n}.safetensors</c> (weights, EMA weights,
/// optimizer state, step, config and metrics), the sampling exports <c>step-{n}.sampling.safetensors</c> (the EMA
/// weights: what a registered version points at), the sample grids <c>step-{n}.grid.png</c> (budgets 1, 4 and 128),
/// the loss curve <c>loss.csv</c> and <c>loss.png</c>, the run's quality classifier, and <c>.lease</c>, the blob whose
/// lease a trainer holds while it works on the run. The file names are those the model library's training loop
/// writes locally (the trainer's tests check that they agree).
/// </summary>
public static class TrainingBlobNames
{
    /// <summary>The name of the lease blob inside a run's folder.</summary>
    public const string LeaseFileName = ".lease";

    /// <summary>The loss table inside a run's folder.</summary>
    public const string LossCsvFileName = "loss.csv";

    /// <summary>The loss plot inside a run's folder.</summary>
    public const string LossPlotFileName = "loss.png";

    /// <summary>The run's feature classifier for quality-based promotion.</summary>
    public const string QualityClassifierFileName = "quality-classifier.safetensors";

    private const string StepPrefix = "step-";
    private const string CheckpointSuffix = ".safetensors";

    /// <summary>The folder of a run: <c>{model}/{runId}/</c>.</summary>
    public static string RunPrefix(string model, string runId)
    {
        if (!Contracts.GenerationJobReader.IsValidModelName(model))
        {
            throw new ArgumentException($"'{model}' is not a valid model name.", nameof(model));
        }

        if (!TrainingRequestReader.IsValidRunId(runId))
        {
            throw new ArgumentException($"'{runId}' is not a valid run id.", nameof(runId));
        }

        return $"{model}/{runId}/";
    }

    /// <summary>A file of the run's folder.</summary>
    public static string File(string model, string runId, string fileName) => RunPrefix(model, runId) + fileName;

    /// <summary>The resumable checkpoint of step <paramref name="step"/>.</summary>
    public static string Checkpoint(string model, string runId, long step) => File(model, runId, CheckpointFileName(step));

    /// <summary>The sampling export (EMA weights) of step <paramref name="step"/>.</summary>
    public static string SamplingModel(string model, string runId, long step) =>
        File(model, runId, string.Create(CultureInfo.InvariantCulture, $"{StepPrefix}{step}.sampling{CheckpointSuffix}"));

    /// <summary>The sample grid of step <paramref name="step"/>.</summary>
    public static string SampleGrid(string model, string runId, long step) =>
        File(model, runId, string.Create(CultureInfo.InvariantCulture, $"{StepPrefix}{step}.grid.png"));

    /// <summary>The file name of a resumable checkpoint: <c>step-{n}.safetensors</c>.</summary>
    public static string CheckpointFileName(long step) => string.Create(CultureInfo.InvariantCulture, $"{StepPrefix}{step}{CheckpointSuffix}");

    /// <summary>The step of a resumable checkpoint's blob or file name (<c>.../step-{n}.safetensors</c>); null for any other name.</summary>
    public static long? CheckpointStepOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string fileName = name[(name.LastIndexOf('/') + 1)..];
        if (!fileName.StartsWith(StepPrefix, StringComparison.Ordinal) || !fileName.EndsWith(CheckpointSuffix, StringComparison.Ordinal))
        {
            return null;
        }

        string digits = fileName[StepPrefix.Length..^CheckpointSuffix.Length];
        return digits.Length > 0 && digits.All(char.IsAsciiDigit)
            && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long step) ? step : null;
    }

    /// <summary>The registry version of a run's checkpoint: <c>{runId}-step-{n}</c> (a valid version name for every valid run id).</summary>
    public static string VersionName(string runId, long step)
    {
        string version = string.Create(CultureInfo.InvariantCulture, $"{runId}-{StepPrefix}{step}");
        return Contracts.GenerationJobReader.IsValidModelName(version)
            ? version
            : throw new ArgumentException($"'{runId}' and step {step} make no valid version name.", nameof(runId));
    }
}
