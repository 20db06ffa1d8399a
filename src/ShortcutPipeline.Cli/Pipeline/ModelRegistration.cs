using System.Security.Cryptography;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Model;

namespace ShortcutPipeline.Cli.Pipeline;

/// <summary>When <see cref="ModelRegistration.RegisterAsync"/> makes the version the latest.</summary>
public enum Promotion
{
    /// <summary>Always: jobs without a pinned version get it from now on.</summary>
    Always,

    /// <summary>Only when the model has no latest version yet (the local run's default model).</summary>
    IfNoneYet,

    /// <summary>Never: the version is registered, and jobs can pin it.</summary>
    Never,
}

/// <summary>What <see cref="ModelRegistration.RegisterAsync"/> did.</summary>
/// <param name="Manifest">The registered version.</param>
/// <param name="Uploaded">False when the version was registered before (nothing was uploaded).</param>
/// <param name="IsLatest">True when the version is the model's latest afterwards.</param>
/// <param name="Info">What the checkpoint holds.</param>
public sealed record Registration(ModelManifest Manifest, bool Uploaded, bool IsLatest, CheckpointInfo Info);

/// <summary>
/// Registers a checkpoint file (a sampling export or a training checkpoint) as a model version in the registry, for
/// `shortcut models register`, the local run and `shortcut serve`. A version named after the file's content
/// (<c>{prefix}-{first 12 hex digits of its SHA-256}</c>) makes registering the same file again a no-op; a version
/// name that is taken is refused, since versions are immutable.
/// </summary>
public static class ModelRegistration
{
    /// <summary>The version name of a checkpoint's content.</summary>
    public static string ContentVersion(string prefix, Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        return prefix + "-" + Convert.ToHexStringLower(SHA256.HashData(content))[..12];
    }

    /// <summary>
    /// Registers the checkpoint that <paramref name="open"/> reads as <paramref name="model"/> <paramref name="version"/>
    /// (null: <see cref="ContentVersion"/> with <paramref name="versionPrefix"/>) and promotes it as <paramref name="promotion"/> says.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a checkpoint of this project.</exception>
    /// <exception cref="ArgumentException">The model or version name is not valid, or the version is taken by another file.</exception>
    public static async Task<Registration> RegisterAsync(
        ModelRegistry registry, string model, Func<Stream> open, string? version, Promotion promotion, CancellationToken cancellationToken,
        string versionPrefix = "sha256")
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(open);
        CheckpointInfo info;
        string contentVersion;
        using (Stream content = open())
        {
            info = Checkpoint.ReadInfo(content);
            content.Seek(0, SeekOrigin.Begin);
            contentVersion = ContentVersion(versionPrefix, content);
        }

        ModelManifest? existing = await registry.GetVersionAsync(model, version ?? contentVersion, cancellationToken).ConfigureAwait(false);
        if (existing is not null && version is not null)
        {
            throw new ArgumentException(
                $"Version {version} of model {model} is registered already (checkpoint {existing.Checkpoint}); versions are immutable: choose another --version.");
        }

        bool uploaded = existing is null;
        ModelManifest manifest = existing
            ?? await UploadAsync(registry, model, version ?? contentVersion, open, info, cancellationToken).ConfigureAwait(false);
        bool isLatest = await PromoteAsync(registry, manifest, promotion, cancellationToken).ConfigureAwait(false);
        return new Registration(manifest, uploaded, isLatest, info);
    }

    private static async Task<ModelManifest> UploadAsync(
        ModelRegistry registry, string model, string version, Func<Stream> open, CheckpointInfo info, CancellationToken cancellationToken)
    {
        string blobName;
        using (Stream content = open())
        {
            blobName = await registry.UploadCheckpointAsync(model, version, content, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        return await registry.RegisterVersionAsync(new ModelManifest
        {
            Model = model,
            Version = version,
            Checkpoint = blobName,
            NumClasses = info.Config.NumClasses,
            Metrics = info.Metrics.Count > 0 ? info.Metrics : null,
        }, cancellationToken).ConfigureAwait(false);
    }

    // True when the version is the latest afterwards.
    private static async Task<bool> PromoteAsync(ModelRegistry registry, ModelManifest manifest, Promotion promotion, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < 10; attempt++)
        {
            ModelManifestEntry? latest = await registry.GetLatestAsync(manifest.Model, cancellationToken).ConfigureAwait(false);
            if (latest?.Manifest.Version == manifest.Version)
            {
                return true;
            }

            if (promotion == Promotion.Never || (promotion == Promotion.IfNoneYet && latest is not null))
            {
                return false;
            }

            if ((await registry.PromoteAsync(manifest, latest?.ETag, cancellationToken).ConfigureAwait(false)).Promoted)
            {
                return true;
            }
        }

        throw new InvalidOperationException($"The latest version of {manifest.Model} kept changing while {manifest.Version} was promoted; try again.");
    }
}
