using System.Text.Json.Serialization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ShortcutPipeline.Core.Models;

/// <summary>
/// The blob-based model registry in the checkpoints container (blob names: <see cref="ModelBlobNames"/>):
/// <list type="bullet">
/// <item><c>{model}/latest.json</c>: the manifest of the promoted version (the pointer workers follow);</item>
/// <item><c>{model}/versions/{version}.json</c>: one immutable manifest per registered version;</item>
/// <item>checkpoint files anywhere in the container (the manifest names the blob), by default
/// <c>{model}/{version}/{file}</c> when uploaded through <see cref="UploadCheckpointAsync"/>.</item>
/// </list>
/// Promotion is a conditional write of latest.json, so concurrent promoters cannot overwrite each other.
/// </summary>
/// <param name="storage">The storage whose checkpoints container holds the registry.</param>
/// <param name="time">The clock of the manifests' times (default: the system's).</param>
public sealed class ModelRegistry(PipelineStorage storage, TimeProvider? time = null)
{
    private readonly BlobContainerClient container = (storage ?? throw new ArgumentNullException(nameof(storage))).CheckpointsContainer;
    private readonly TimeProvider time = time ?? TimeProvider.System;

    /// <summary>The latest manifest of <paramref name="model"/> with its ETag, or null when none is promoted.</summary>
    public Task<ModelManifestEntry?> GetLatestAsync(string model, CancellationToken cancellationToken = default) =>
        ReadAsync(ModelBlobNames.Latest(model), cancellationToken);

    /// <summary>The manifest of version <paramref name="version"/> of <paramref name="model"/>, or null when not registered.</summary>
    public async Task<ModelManifest?> GetVersionAsync(string model, string version, CancellationToken cancellationToken = default) =>
        (await ReadAsync(ModelBlobNames.Version(model, version), cancellationToken).ConfigureAwait(false))?.Manifest;

    /// <summary>The registered versions of <paramref name="model"/>, oldest first (empty when it has none).</summary>
    public async Task<IReadOnlyList<ModelManifest>> ListVersionsAsync(string model, CancellationToken cancellationToken = default)
    {
        string prefix = ModelBlobNames.VersionsPrefix(model);
        var manifests = new List<ModelManifest>();
        try
        {
            await foreach (BlobItem blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken).ConfigureAwait(false))
            {
                if (ModelBlobNames.IsManifest(blob.Name)
                    && await ReadAsync(blob.Name, cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    manifests.Add(entry.Manifest);
                }
            }
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.NotFound)
        {
            // No checkpoints container yet: no versions.
        }

        return manifests.OrderBy(m => m.CreatedAt).ThenBy(m => m.Version, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The manifest a job's model reference means: the pinned version, or the latest one when
    /// <paramref name="version"/> is null. Null when there is no such model or version.
    /// </summary>
    public async Task<ModelManifest?> ResolveAsync(string model, string? version, CancellationToken cancellationToken = default) =>
        version is null
            ? (await GetLatestAsync(model, cancellationToken).ConfigureAwait(false))?.Manifest
            : await GetVersionAsync(model, version, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Registers a version without promoting it (writes <c>versions/{version}.json</c> if absent).
    /// Registering the same version again with the same checkpoint is a no-op that returns the stored manifest.
    /// </summary>
    /// <exception cref="InvalidOperationException">The version is registered already with another checkpoint.</exception>
    public async Task<ModelManifest> RegisterVersionAsync(ModelManifest manifest, CancellationToken cancellationToken = default)
    {
        manifest = Complete(manifest);
        BlobClient blob = container.GetBlobClient(ModelBlobNames.Version(manifest.Model, manifest.Version));
        if (await TryWriteAsync(blob, manifest, new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken)
                .ConfigureAwait(false) is not null)
        {
            return manifest;
        }

        ModelManifest stored = (await ReadAsync(blob.Name, cancellationToken).ConfigureAwait(false))?.Manifest
            ?? throw new InvalidOperationException($"Version {manifest.Version} of model {manifest.Model} could not be written nor read.");
        if (!string.Equals(stored.Checkpoint, manifest.Checkpoint, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"Version {manifest.Version} of model {manifest.Model} is registered already with checkpoint {stored.Checkpoint}, not {manifest.Checkpoint}; versions are immutable.");
        }

        return stored;
    }

    /// <summary>
    /// Registers <paramref name="manifest"/>'s version (if needed) and makes it the latest, but only if
    /// latest.json is still what the caller saw: <paramref name="expectedLatest"/> is the ETag from
    /// <see cref="GetLatestAsync"/>, or null when the caller saw no latest at all. When another promoter
    /// got there first, nothing is overwritten and the result carries the winner.
    /// </summary>
    public async Task<PromotionResult> PromoteAsync(
        ModelManifest manifest, ETag? expectedLatest, CancellationToken cancellationToken = default)
    {
        manifest = await RegisterVersionAsync(manifest, cancellationToken).ConfigureAwait(false);
        return await PromoteRegisteredAsync(manifest, expectedLatest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><see cref="PromoteAsync"/> of a manifest that <see cref="RegisterVersionAsync"/> returned.</summary>
    private async Task<PromotionResult> PromoteRegisteredAsync(
        ModelManifest manifest, ETag? expectedLatest, CancellationToken cancellationToken)
    {
        BlobClient latest = container.GetBlobClient(ModelBlobNames.Latest(manifest.Model));
        var conditions = expectedLatest is ETag etag
            ? new BlobRequestConditions { IfMatch = etag }
            : new BlobRequestConditions { IfNoneMatch = ETag.All };
        ETag? written = await TryWriteAsync(latest, manifest, conditions, cancellationToken).ConfigureAwait(false);
        return written is ETag newETag
            ? new PromotionResult(true, new ModelManifestEntry(manifest, newETag))
            : new PromotionResult(false, await GetLatestAsync(manifest.Model, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Makes <paramref name="manifest"/> the latest version unless the latest is newer (see <see cref="IsNewer"/>):
    /// reads latest.json, and promotes with its ETag when <paramref name="manifest"/> is newer; when another promoter
    /// gets in between, it compares against the winner and tries again only if it is still newer. The version is
    /// registered (pinnable) in any case. <see cref="PromotionResult.Promoted"/> is true when the manifest is the
    /// latest afterwards, also when it was the latest already (a repeated promotion).
    /// </summary>
    /// <exception cref="InvalidOperationException">latest.json changed under every one of <paramref name="maxAttempts"/> attempts.</exception>
    public async Task<PromotionResult> PromoteIfNewerAsync(
        ModelManifest manifest, int maxAttempts = 20, CancellationToken cancellationToken = default)
    {
        manifest = await RegisterVersionAsync(manifest, cancellationToken).ConfigureAwait(false);
        ModelManifestEntry? latest = await GetLatestAsync(manifest.Model, cancellationToken).ConfigureAwait(false);
        for (int attempt = 1; attempt <= maxAttempts; attempt++)
        {
            if (latest is not null && string.Equals(latest.Manifest.Version, manifest.Version, StringComparison.Ordinal))
            {
                return new PromotionResult(true, latest);
            }

            if (latest is not null && !IsNewer(manifest, latest.Manifest))
            {
                return new PromotionResult(false, latest);
            }

            PromotionResult result = await PromoteRegisteredAsync(manifest, latest?.ETag, cancellationToken).ConfigureAwait(false);
            if (result.Promoted)
            {
                return result;
            }

            latest = result.Latest;
        }

        throw new InvalidOperationException(
            $"The latest version of model {manifest.Model} changed under every one of {maxAttempts} attempts to promote {manifest.Version}.");
    }

    /// <summary>
    /// The order of promotion: true when <paramref name="candidate"/> is newer than <paramref name="current"/>.
    /// Versions of one training run are ordered by step. Otherwise a version's time is its run's launch time
    /// (<see cref="ModelManifest.TrainedBy"/>), or, for a version registered by hand, its
    /// <see cref="ModelManifest.CreatedAt"/>: a run launched later is newer, whatever order the runs finish in.
    /// Equal times fall back to the step and then to the version name (ordinal), so the order is total.
    /// </summary>
    public static bool IsNewer(ModelManifest candidate, ModelManifest current)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(current);
        if (candidate.TrainedBy is { } a && current.TrainedBy is { } b && string.Equals(a.RunId, b.RunId, StringComparison.Ordinal))
        {
            return a.Step > b.Step;
        }

        int byTime = (candidate.TrainedBy?.LaunchedAt ?? candidate.CreatedAt).CompareTo(current.TrainedBy?.LaunchedAt ?? current.CreatedAt);
        if (byTime != 0)
        {
            return byTime > 0;
        }

        int byStep = (candidate.TrainedBy?.Step ?? 0).CompareTo(current.TrainedBy?.Step ?? 0);
        return byStep != 0 ? byStep > 0 : string.CompareOrdinal(candidate.Version, current.Version) > 0;
    }

    /// <summary>
    /// Uploads a checkpoint file to <see cref="ModelBlobNames.Checkpoint"/>(model, version, fileName), overwriting
    /// an earlier upload of the same version, and returns its blob name (for <see cref="ModelManifest.Checkpoint"/>).
    /// </summary>
    public async Task<string> UploadCheckpointAsync(
        string model, string version, Stream content, string fileName = ModelBlobNames.DefaultCheckpointFileName,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        string blobName = ModelBlobNames.Checkpoint(model, version, fileName);
        await container.GetBlobClient(blobName).UploadAsync(content, overwrite: true, cancellationToken).ConfigureAwait(false);
        return blobName;
    }

    /// <summary>
    /// Uploads <paramref name="checkpoint"/> as the version's checkpoint file (<see cref="UploadCheckpointAsync"/>),
    /// then <see cref="PromoteAsync"/>s the manifest (its <see cref="ModelManifest.Checkpoint"/> set to the
    /// uploaded blob) under the same condition. The local run uses it to register the embedded default model
    /// (with <paramref name="expectedLatest"/> null: only when the model has no latest yet).
    /// </summary>
    public async Task<PromotionResult> UploadAndPromoteAsync(
        string model, string version, Stream checkpoint, ETag? expectedLatest, int? numClasses = null,
        IReadOnlyDictionary<string, double>? metrics = null, CancellationToken cancellationToken = default)
    {
        string blobName = await UploadCheckpointAsync(model, version, checkpoint, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var manifest = new ModelManifest
        {
            Model = model,
            Version = version,
            Checkpoint = blobName,
            NumClasses = numClasses,
            Metrics = metrics,
        };
        return await PromoteAsync(manifest, expectedLatest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Downloads the checkpoint file of <paramref name="manifest"/> to <paramref name="destination"/>.</summary>
    public async Task DownloadCheckpointAsync(ModelManifest manifest, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(destination);
        await container.GetBlobClient(manifest.Checkpoint).DownloadToAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    private ModelManifest Complete(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ModelBlobNames.CheckName(manifest.Model, nameof(manifest.Model));
        ModelBlobNames.CheckName(manifest.Version, nameof(manifest.Version));
        ArgumentException.ThrowIfNullOrWhiteSpace(manifest.Checkpoint, nameof(manifest.Checkpoint));
        if (manifest.NumClasses is < 1)
        {
            throw new ArgumentException("NumClasses must be at least 1, or null.", nameof(manifest));
        }

        return manifest.CreatedAt == default ? manifest with { CreatedAt = time.GetUtcNow() } : manifest;
    }

    private async Task<ModelManifestEntry?> ReadAsync(string blobName, CancellationToken cancellationToken)
    {
        try
        {
            Response<BlobDownloadResult> response = await container.GetBlobClient(blobName)
                .DownloadContentAsync(cancellationToken).ConfigureAwait(false);
            ModelManifest manifest = response.Value.Content.ToObjectFromJson<ModelManifest>(PipelineJson.Options)
                ?? throw new InvalidDataException($"The manifest {container.Name}/{blobName} is empty.");
            return new ModelManifestEntry(manifest, response.Value.Details.ETag);
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (JsonException exception)
        {
            throw new InvalidDataException($"The manifest {container.Name}/{blobName} is not valid manifest JSON: {exception.Message}", exception);
        }
    }

    // Null when the condition failed (someone else wrote first).
    private static async Task<ETag?> TryWriteAsync(
        BlobClient blob, ModelManifest manifest, BlobRequestConditions conditions, CancellationToken cancellationToken)
    {
        var options = new BlobUploadOptions
        {
            Conditions = conditions,
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
        };
        try
        {
            Response<BlobContentInfo> response = await blob
                .UploadAsync(BinaryData.FromObjectAsJson(manifest, PipelineJson.Options), options, cancellationToken)
                .ConfigureAwait(false);
            return response.Value.ETag;
        }
        catch (RequestFailedException exception) when (exception.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict)
        {
            return null;
        }
    }
}

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
