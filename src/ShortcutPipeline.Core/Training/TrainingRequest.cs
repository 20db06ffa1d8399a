using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Core.Training;

/// <summary>What a training run optimises.</summary>
public enum TrainingObjectiveKind
{
    /// <summary>The shortcut model: flow matching plus self-consistency targets, one network for every step budget.</summary>
    Shortcut,

    /// <summary>The flow-matching baseline (no self-consistency targets).</summary>
    FlowMatching,
}

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
/// body of <c>POST /api/runs</c>. Read and check it with <see cref="TrainingRequestReader"/>; the contract is described
/// in src/ShortcutPipeline.Core/Contracts/README.md. The trainer checks what Core cannot (a known preset, a dataset
/// that exists) when the run starts.
/// </summary>
public sealed record TrainingRequest
{
    /// <summary>Dataset spec prefix of a folder of blobs in the datasets container: <c>blob:PREFIX</c>.</summary>
    public const string BlobDatasetPrefix = "blob:";

    /// <summary>The run id (1 to 40 letters, digits, '_' or '-', starting and ending with a letter or digit; not "versions").</summary>
    public required string RunId { get; init; }

    /// <summary>The model name the run's versions are registered under.</summary>
    public required string Model { get; init; }

    /// <summary>The model preset (DiT-XL/2, DiT-B/2, DiT-S/4, DiT-Small/4, DiT-Tiny/2; the trainer knows the list).</summary>
    public required string Preset { get; init; }

    /// <summary>Image size the model trains at (default: the preset's).</summary>
    public int? InputSize { get; init; }

    /// <summary>Image channels, 1 or 3 (default: the preset's).</summary>
    public int? Channels { get; init; }

    /// <summary>Patch size override (default: the preset's).</summary>
    public int? PatchSize { get; init; }

    /// <summary>Hidden size override (default: the preset's).</summary>
    public int? HiddenSize { get; init; }

    /// <summary>Depth override (default: the preset's).</summary>
    public int? Depth { get; init; }

    /// <summary>Attention heads override (default: the preset's).</summary>
    public int? NumHeads { get; init; }

    /// <summary>"fashion-mnist", "fashion-mnist:DIR", a local folder, or <c>blob:PREFIX</c> (see <see cref="BlobDatasetPrefix"/>).</summary>
    public required string Dataset { get; init; }

    /// <summary>Load at most this many images (Fashion-MNIST: the first ones; a folder: per class). Null: all.</summary>
    public int? DatasetLimit { get; init; }

    /// <summary>Total training steps; a resumed run continues to this total.</summary>
    public required long Steps { get; init; }

    /// <summary>Images per step (default 64).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>The objective (default <see cref="TrainingObjectiveKind.Shortcut"/>).</summary>
    public TrainingObjectiveKind Objective { get; init; } = TrainingObjectiveKind.Shortcut;

    /// <summary>AdamW learning rate (default 1e-4).</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>Seeds the weights, the data order and every random draw (default 0).</summary>
    public long Seed { get; init; }

    /// <summary>Steps between checkpoints (default 1000); there is always one at the end.</summary>
    public int CheckpointEvery { get; init; } = 1000;

    /// <summary>When checkpoints are promoted; null: the final one, when the run finishes.</summary>
    public PromotionPolicy? Promotion { get; init; }

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
