// The generation job contract: the validated job, the settings it shares with its work items (JobSettings) and its parts
// (ClassRequest, ...), its limits (GenerationJobLimits) and its JSON Schema as published (GenerationJobSchema,
// generation-job.schema.json).

using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// What a job fixes for every one of its images: the sampling steps, the guidance scale, the priority and the deadline.
/// A <see cref="GenerationJob"/> and each of its <see cref="WorkItem"/>s are these settings plus their own fields, so a
/// work item carries its job's settings by construction, and a setting added here is in both, and in the work queue's
/// messages, with nothing to copy.
/// </summary>
public abstract record JobSettings
{
    /// <summary>Sampling steps: a power of two from 1 to <see cref="GenerationJobLimits.MaxSteps"/>.</summary>
    public required int Steps { get; init; }

    /// <summary>Classifier-free guidance scale, 0 to <see cref="GenerationJobLimits.MaxCfgScale"/>; 1 means no guidance.</summary>
    public double CfgScale { get; init; } = 1;

    /// <summary>The priority the client asked for.</summary>
    public JobPriority Priority { get; init; } = JobPriority.Normal;

    /// <summary>When the work stops being useful; null: no deadline.</summary>
    public DateTimeOffset? Deadline { get; init; }
}

/// <summary>
/// A validated generation job (the contract is <c>Contracts/generation-job.schema.json</c>; read one with
/// <see cref="GenerationJobReader"/>). Exactly one of <see cref="Classes"/> and <see cref="Items"/> is set.
/// </summary>
public sealed record GenerationJob : JobSettings
{
    /// <summary>The job id and idempotency key: <c>[A-Za-z0-9_-]{1,64}</c>, the client's or a derived one.</summary>
    public required string Id { get; init; }

    /// <summary>The model to draw from (the version may be unpinned until intake resolves it).</summary>
    public required ModelReference Model { get; init; }

    /// <summary>Images per class, or null when <see cref="Items"/> lists the images one by one.</summary>
    public IReadOnlyList<ClassRequest>? Classes { get; init; }

    /// <summary>One entry per image, or null when <see cref="Classes"/> is used.</summary>
    public IReadOnlyList<ItemRequest>? Items { get; init; }

    /// <summary>The job seed (the client's, or derived from the job id): see <see cref="ExpandImages"/>.</summary>
    public required long Seed { get; init; }

    /// <summary>Receives a POST of the <c>JobStatus</c> JSON when the job completes, fails or is cancelled.</summary>
    public Uri? CallbackUrl { get; init; }

    /// <summary>The number of images the job asks for.</summary>
    public int ImageCount => Items?.Count ?? Classes?.Sum(c => c.Count) ?? 0;

    /// <summary>
    /// The images in order, numbered from 0: with <see cref="Classes"/>, the first entry's <c>count</c>
    /// images, then the second's, and so on; with <see cref="Items"/>, one per item. Image i is drawn
    /// with its item's seed when the item gives one, else with <c>(Seed + i) mod 2^63</c>.
    /// </summary>
    public IReadOnlyList<ImageRequest> ExpandImages()
    {
        var images = new List<ImageRequest>(ImageCount);
        if (Items is not null)
        {
            foreach (ItemRequest item in Items)
            {
                int index = images.Count;
                images.Add(new ImageRequest(index, item.Label, item.Seed ?? SeedOf(index)));
            }
        }
        else if (Classes is not null)
        {
            foreach (ClassRequest request in Classes)
            {
                for (int n = 0; n < request.Count; n++)
                {
                    int index = images.Count;
                    images.Add(new ImageRequest(index, request.Label, SeedOf(index)));
                }
            }
        }

        return images;
    }

    private long SeedOf(int index) => unchecked(Seed + index) & long.MaxValue;
}

/// <summary>The model a job draws from.</summary>
/// <param name="Name">The model name (a folder of the checkpoints container).</param>
/// <param name="Version">A pinned version, or null for the latest version at intake.</param>
public sealed record ModelReference(string Name, string? Version);

/// <summary><see cref="Count"/> images of class <see cref="Label"/>.</summary>
/// <param name="Label">A class index, or null for unconditional images.</param>
/// <param name="Count">How many images (at least 1).</param>
public sealed record ClassRequest(int? Label, int Count);

/// <summary>One image of a job that lists its images.</summary>
/// <param name="Label">A class index, or null for an unconditional image.</param>
/// <param name="Seed">The image's own seed (0 or more), or null to derive it from the job seed.</param>
public sealed record ItemRequest(int? Label, long? Seed);

/// <summary>One image to draw: its index within the job, its class and its seed.</summary>
/// <param name="Index">The 0-based image index; the image is stored as <see cref="ImageBlobNames.For"/>(jobId, index).</param>
/// <param name="Label">A class index, or null for an unconditional image.</param>
/// <param name="Seed">The seed of the image's initial noise.</param>
public sealed record ImageRequest(int Index, int? Label, long Seed);

/// <summary>A job's priority.</summary>
public enum JobPriority
{
    /// <summary>Background work.</summary>
    Low,

    /// <summary>The default.</summary>
    Normal,

    /// <summary>Interactive work.</summary>
    High,
}

/// <summary>
/// The configurable limits of the job contract (section <see cref="SectionName"/>) and its fixed bounds.
/// </summary>
public sealed class GenerationJobLimits
{
    /// <summary>The configuration section these options bind from (<c>ShortcutPipeline__Jobs__MaxImagesPerJob</c>, ...).</summary>
    public const string SectionName = "ShortcutPipeline:Jobs";

    /// <summary>The largest number of sampling steps (steps are powers of two from 1 to this).</summary>
    public const int MaxSteps = 128;

    /// <summary>The largest classifier-free guidance scale.</summary>
    public const double MaxCfgScale = 20;

    /// <summary>The longest job id.</summary>
    public const int MaxIdLength = 64;

    /// <summary>The most images one job may ask for (default 256).</summary>
    public int MaxImagesPerJob { get; set; } = 256;

    /// <summary>The largest job message, in UTF-8 bytes (default 64 KiB, a queue message's limit).</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>The most images one <see cref="WorkItem"/> carries (default 16).</summary>
    public int MaxImagesPerWorkItem { get; set; } = 16;

    /// <summary>
    /// How much of a message the status record keeps, in UTF-8 bytes (default 64 KiB, the table service's
    /// limit for one property); longer messages are kept truncated and flagged as such.
    /// </summary>
    public int MaxStoredMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Throws when a limit is out of range.</summary>
    public void Validate()
    {
        if (MaxImagesPerJob < 1 || MaxMessageBytes < 1 || MaxImagesPerWorkItem < 1 || MaxStoredMessageBytes < 0)
        {
            throw new InvalidOperationException(
                $"Invalid job limits: {nameof(MaxImagesPerJob)}, {nameof(MaxMessageBytes)} and {nameof(MaxImagesPerWorkItem)} must be at least 1, {nameof(MaxStoredMessageBytes)} at least 0.");
        }

        if (MaxStoredMessageBytes > 64 * 1024)
        {
            throw new InvalidOperationException($"{nameof(MaxStoredMessageBytes)} may be at most 65536 (a table property's limit).");
        }
    }
}

/// <summary>The JSON Schema of a generation job (<c>Contracts/generation-job.schema.json</c>, embedded in this assembly).</summary>
public static class GenerationJobSchema
{
    private static readonly ConcurrentDictionary<int, ContractSchema> Configured = new();

    /// <summary>The schema text as published (with the default limits).</summary>
    public static string Text { get; } =
        ContractSchema.ReadResource(typeof(GenerationJobSchema).Assembly, "ShortcutPipeline.Core.Contracts.generation-job.schema.json");

    /// <summary>The schema with the image limit of <paramref name="limits"/> (the counts and list lengths it bounds).</summary>
    public static string TextFor(GenerationJobLimits limits) => For(limits).Text;

    internal static ContractSchema For(GenerationJobLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return Configured.GetOrAdd(limits.MaxImagesPerJob, max => ContractSchema.Load(Text, schema =>
        {
            JsonNode properties = schema["properties"]!;
            properties["classes"]!["maxItems"] = max;
            properties["classes"]!["items"]!["properties"]!["count"]!["maximum"] = max;
            properties["items"]!["maxItems"] = max;
        }));
    }
}
