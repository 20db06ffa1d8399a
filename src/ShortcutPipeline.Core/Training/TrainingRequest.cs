using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ShortcutPipeline.Contracts;

namespace ShortcutPipeline.Core.Training;

/// <summary>
/// When a run's checkpoints are promoted to the model's latest version. Without a policy (<see cref="TrainingRequest.Promotion"/>
/// null) the final checkpoint is promoted when the run finishes. With one, every checkpoint is scored and each
/// whose Fréchet distance at <see cref="Budget"/> steps is at most <see cref="MaxFrechetDistance"/> is promoted as
/// soon as it is written; when none is, the run still succeeds, its final version is registered (pinnable) but
/// not promoted, and the run says why.
/// </summary>
public sealed record PromotionPolicy
{
    /// <summary>The sampling step budget the distance is measured at (1, 2, 4, ..., 128).</summary>
    public required int Budget { get; init; }

    /// <summary>The largest Fréchet distance (in the run's quality classifier's features) that is good enough.</summary>
    public required double MaxFrechetDistance { get; init; }

    /// <summary>Generated and real images per score (default 500).</summary>
    public int Samples { get; init; } = 500;

    /// <summary>Training steps of the run's feature classifier (trained once per run, default 1000).</summary>
    public int ClassifierSteps { get; init; } = 1000;
}

/// <summary>
/// A training request: the JSON of a message on the training queue (<see cref="StorageNames.TrainingQueue"/>) and the
/// body of <c>POST /api/runs</c>. It is a <see cref="TrainingConfig"/> (every training knob, the same record the CLI
/// builds and checkpoints keep, so a request can set each of them) plus what a run needs besides: its id, the model
/// name its versions are registered under, the dataset, its length, its checkpoints and when they are promoted. The
/// JSON is flat: <c>{ "model": ..., "preset": ..., "dataset": ..., "steps": ..., "bFloat16": true, ... }</c>. Read and
/// check it with <see cref="TrainingRequestReader"/>; the contract is described in src/ShortcutPipeline.Core/Contracts/README.md.
/// The trainer checks what Core cannot (a known preset, a dataset that exists) when the run starts.
/// </summary>
public sealed record TrainingRequest : TrainingConfig
{
    /// <summary>Dataset spec prefix of a folder of blobs in the datasets container: <c>blob:PREFIX</c>.</summary>
    public const string BlobDatasetPrefix = "blob:";

    /// <summary>A request with the default training settings.</summary>
    public TrainingRequest()
    {
    }

    /// <summary>A request that trains with <paramref name="training"/>'s settings.</summary>
    [System.Diagnostics.CodeAnalysis.SetsRequiredMembers]
    private TrainingRequest(TrainingConfig training, string runId, string model, string dataset, long steps)
        : base(training)
    {
        RunId = runId;
        Model = model;
        Dataset = dataset;
        Steps = steps;
    }

    /// <summary>The run id (1 to 40 letters, digits, '_' or '-', starting and ending with a letter or digit; not "versions").</summary>
    public required string RunId { get; init; }

    /// <summary>The model name the run's versions are registered under.</summary>
    public required string Model { get; init; }

    /// <summary>"fashion-mnist", "fashion-mnist:DIR", a local folder, or <c>blob:PREFIX</c> (see <see cref="BlobDatasetPrefix"/>).</summary>
    public required string Dataset { get; init; }

    /// <summary>Load at most this many images (Fashion-MNIST: the first ones; a folder: per class). Null: all.</summary>
    public int? DatasetLimit { get; init; }

    /// <summary>Total training steps; a resumed run continues to this total.</summary>
    public required long Steps { get; init; }

    /// <summary>Steps between checkpoints (default 1000); there is always one at the end.</summary>
    public int CheckpointEvery { get; init; } = 1000;

    /// <summary>When checkpoints are promoted; null: the final one, when the run finishes.</summary>
    public PromotionPolicy? Promotion { get; init; }

    /// <summary>A request for run <paramref name="runId"/> that trains with <paramref name="training"/>'s settings.</summary>
    public static TrainingRequest Create(TrainingConfig training, string runId, string model, string dataset, long steps)
    {
        ArgumentNullException.ThrowIfNull(training);
        return new TrainingRequest(training.ToTrainingConfig(), runId, model, dataset, steps);
    }

    /// <summary>For <c>blob:PREFIX</c> datasets the prefix (ending in '/'), else null.</summary>
    [JsonIgnore]
    public string? DatasetBlobPrefix => BlobPrefixOf(Dataset);

    /// <summary>The request as JSON (camelCase, nulls left out): the queue message the launcher sends.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, PipelineJson.Options);

    /// <summary>
    /// SHA-256 (hex) of the request without its run id: equal for requests that train the same thing, so that
    /// a repeated launch is recognised and the scheduler can tell whether the configuration changed.
    /// </summary>
    public string ConfigurationFingerprint()
    {
        JsonObject json = JsonSerializer.SerializeToNode(this, PipelineJson.Options)!.AsObject();
        json.Remove("runId");
        return GenerationJobReader.HashOf(Encoding.UTF8.GetBytes(json.ToJsonString()));
    }

    /// <summary>The prefix of a <c>blob:PREFIX</c> spec, normalised to end in '/'; null for other specs.</summary>
    public static string? BlobPrefixOf(string dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!dataset.StartsWith(BlobDatasetPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        string prefix = dataset[BlobDatasetPrefix.Length..].Trim('/');
        return prefix.Length == 0 ? "" : prefix + "/";
    }
}
