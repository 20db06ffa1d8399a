using System.Globalization;
using System.Net;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;

namespace ShortcutPipeline.Worker;

/// <summary>What <see cref="ImageWriter.WriteAsync"/> did.</summary>
public enum ImageWriteOutcome
{
    /// <summary>The blob was created now.</summary>
    Written,

    /// <summary>The blob existed already (an earlier delivery wrote it) and was left as it is.</summary>
    AlreadyExisted,
}

/// <summary>
/// Encodes sampled images as PNG (ImageSharp) with provenance text chunks and writes each to its deterministic
/// blob name, <see cref="ImageBlobNames.For"/>(jobId, index), with a create-only condition (If-None-Match: *):
/// a redelivered work item never replaces an image, so each image of a job is written exactly once.
/// </summary>
public sealed class ImageWriter
{
    /// <summary>The PNG text keywords the worker writes.</summary>
    public static class Keywords
    {
        /// <summary>The job id.</summary>
        public const string JobId = "jobId";

        /// <summary>The image index within the job.</summary>
        public const string Index = "index";

        /// <summary>The seed of the image's noise.</summary>
        public const string Seed = "seed";

        /// <summary>The step budget.</summary>
        public const string Steps = "steps";

        /// <summary>The class name (or label number; "unconditional" when none).</summary>
        public const string Class = "class";

        /// <summary>The class label number (absent for unconditional images).</summary>
        public const string Label = "label";

        /// <summary>The guidance scale.</summary>
        public const string CfgScale = "cfgScale";

        /// <summary>The model name.</summary>
        public const string Model = "model";

        /// <summary>The model version.</summary>
        public const string ModelVersion = "modelVersion";
    }

    private readonly BlobContainerClient container;

    /// <summary>A writer into <paramref name="storage"/>'s images container.</summary>
    public ImageWriter(PipelineStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        container = storage.ImagesContainer;
    }

    /// <summary>The text chunks of image <paramref name="image"/> of <paramref name="item"/>, drawn with a model of <paramref name="config"/>.</summary>
    public static IReadOnlyDictionary<string, string> TextChunks(WorkItem item, ImageRequest image, DiTConfig config)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(config);
        var text = new Dictionary<string, string>
        {
            [Keywords.JobId] = item.JobId,
            [Keywords.Index] = Invariant(image.Index),
            [Keywords.Seed] = Invariant(image.Seed),
            [Keywords.Steps] = Invariant(item.Steps),
            [Keywords.Class] = ClassName(image.Label, config),
            [Keywords.CfgScale] = Invariant(item.CfgScale),
            [Keywords.Model] = item.Model,
            [Keywords.ModelVersion] = item.ModelVersion,
        };
        if (image.Label is int label)
        {
            text[Keywords.Label] = Invariant(label);
        }

        return text;
    }

    /// <summary>The class name of <paramref name="label"/>: the model's name for it, else its number; "unconditional" for null.</summary>
    public static string ClassName(int? label, DiTConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return label switch
        {
            null => "unconditional",
            int l when l >= 0 && l < config.ClassNames.Count => config.ClassNames[l],
            int l => Invariant(l),
        };
    }

    /// <summary>
    /// Creates the blob of image <paramref name="index"/> of job <paramref name="jobId"/> unless it exists; an existing
    /// blob counts as written and is never replaced.
    /// </summary>
    public async Task<ImageWriteOutcome> WriteAsync(string jobId, int index, byte[] png, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(png);
        BlobClient blob = container.GetBlobClient(ImageBlobNames.For(jobId, index));
        var options = new BlobUploadOptions
        {
            Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
            HttpHeaders = new BlobHttpHeaders { ContentType = "image/png" },
        };
        try
        {
            await blob.UploadAsync(new BinaryData(png), options, cancellationToken).ConfigureAwait(false);
            return ImageWriteOutcome.Written;
        }
        catch (RequestFailedException exception)
            when (exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            return ImageWriteOutcome.AlreadyExisted;
        }
    }

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}
