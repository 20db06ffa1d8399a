using System.Text.Json;
using System.Text.Json.Serialization;
using Azure;

namespace ShortcutPipeline.Core.Models;

/// <summary>
/// What the registry knows about one version of a model: the JSON of
/// <c>checkpoints/{model}/versions/{version}.json</c> and, for the promoted one, of <c>checkpoints/{model}/latest.json</c>.
/// Properties it does not know (written by a newer trainer) are kept in <see cref="AdditionalProperties"/>.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>The model name (see <see cref="Contracts.GenerationJobReader.IsValidModelName"/>).</summary>
    public required string Model { get; init; }

    /// <summary>The version (same rules as the name), e.g. a run id plus step.</summary>
    public required string Version { get; init; }

    /// <summary>The checkpoint's blob name inside the checkpoints container.</summary>
    public required string Checkpoint { get; init; }

    /// <summary>When the checkpoint was made; the registry fills in the current time when left default.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The number of classes of a class-conditional model; job labels must be below it. Null: not checked.</summary>
    public int? NumClasses { get; init; }

    /// <summary>Evaluation metrics (e.g. "fid" per step count), for deciding promotions.</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }

    /// <summary>The training run that made this version (null for versions registered by hand).</summary>
    public TrainingRunReference? TrainedBy { get; init; }

    /// <summary>Any other properties of the manifest JSON, kept as they were.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalProperties { get; init; }
}

/// <summary>Which training run, and which step of it, a version comes from.</summary>
/// <param name="RunId">The run id.</param>
/// <param name="LaunchedAt">When the run was launched (its record's creation time).</param>
/// <param name="Step">The training step of the checkpoint.</param>
public sealed record TrainingRunReference(string RunId, DateTimeOffset LaunchedAt, long Step);

/// <summary>A manifest as read from storage, with the ETag of its blob (for conditional promotion).</summary>
/// <param name="Manifest">The manifest.</param>
/// <param name="ETag">The ETag of the blob it was read from.</param>
public sealed record ModelManifestEntry(ModelManifest Manifest, ETag ETag);

/// <summary>The outcome of <see cref="ModelRegistry.PromoteAsync"/>.</summary>
/// <param name="Promoted">True when this call made its manifest the latest.</param>
/// <param name="Latest">The latest manifest after the call: the caller's when promoted, the winner's otherwise (null if none).</param>
public sealed record PromotionResult(bool Promoted, ModelManifestEntry? Latest);
