using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// A message of the work queue (<see cref="StorageNames.WorkQueue"/>): a chunk of at most
/// <see cref="GenerationJobLimits.MaxImagesPerWorkItem"/> images of one accepted job, with everything a
/// worker needs to draw them: the job's <see cref="JobSettings"/> and its model, resolved to a version.
/// Intake writes it as plain JSON text, camelCase:
/// <code>
/// { "jobId": "j1", "model": "fashion", "modelVersion": "v3", "steps": 4, "cfgScale": 1.5,
///   "priority": "normal", "deadline": "2030-01-01T00:00:00+00:00",
///   "images": [ { "index": 0, "label": 3, "seed": 42 }, { "index": 1, "seed": 43 } ] }
/// </code>
/// A worker writes image <c>i</c> to <see cref="ImageBlobNames.For"/>(jobId, i) in the images container
/// and then calls <c>JobProgress.RecordImageAsync(jobId, i)</c>; a work item may be delivered more than
/// once (and chunks of one job may run on different workers), so recording is idempotent per index.
/// </summary>
public sealed record WorkItem : JobSettings
{
    /// <summary>An empty work item, to fill in with an initializer (and for the JSON reader).</summary>
    public WorkItem()
    {
    }

    // Images of job, with its settings and its model resolved to modelVersion.
    [SetsRequiredMembers]
    private WorkItem(GenerationJob job, string modelVersion, IReadOnlyList<ImageRequest> images)
        : base(job)
    {
        JobId = job.Id;
        Model = job.Model.Name;
        ModelVersion = modelVersion;
        Images = images;
    }

    /// <summary>The job the images belong to.</summary>
    public required string JobId { get; init; }

    /// <summary>The model name.</summary>
    public required string Model { get; init; }

    /// <summary>The model version, resolved at intake (never "latest": the version that was latest then).</summary>
    public required string ModelVersion { get; init; }

    /// <summary>The images to draw (index within the job, label or null for unconditional, seed).</summary>
    /// <remarks>Written last, after the job's settings, as the example above shows.</remarks>
    [JsonPropertyOrder(1)]
    public required IReadOnlyList<ImageRequest> Images { get; init; }

    /// <summary>The message text (JSON).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, PipelineJson.Options);

    /// <summary>
    /// Reads a work-queue message: JSON text, or base64 of it (in case a queue client encoded it).
    /// </summary>
    /// <exception cref="FormatException">The message is not a work item; the text says why.</exception>
    public static WorkItem Parse(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        string text = message.Trim();
        if (!text.StartsWith('{'))
        {
            var bytes = new byte[text.Length];
            if (text.Length % 4 == 0 && Convert.TryFromBase64String(text, bytes, out int length))
            {
                text = Encoding.UTF8.GetString(bytes, 0, length);
            }
        }

        WorkItem? item;
        try
        {
            item = JsonSerializer.Deserialize<WorkItem>(text, PipelineJson.Options);
        }
        catch (JsonException exception)
        {
            throw new FormatException($"The work item is not valid JSON of a work item: {exception.Message}", exception);
        }

        if (item is null || string.IsNullOrEmpty(item.JobId) || string.IsNullOrEmpty(item.Model)
            || string.IsNullOrEmpty(item.ModelVersion) || item.Images is null || item.Images.Count == 0)
        {
            throw new FormatException("The work item lacks a jobId, model, modelVersion or images.");
        }

        return item;
    }

    /// <summary>
    /// Splits <paramref name="job"/> into work items of at most <paramref name="maxImagesPerItem"/> images,
    /// in image order, all naming <paramref name="modelVersion"/>.
    /// </summary>
    public static IReadOnlyList<WorkItem> Split(GenerationJob job, string modelVersion, int maxImagesPerItem)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrEmpty(modelVersion);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxImagesPerItem, 1);
        return job.ExpandImages()
            .Chunk(maxImagesPerItem)
            .Select(chunk => new WorkItem(job, modelVersion, chunk))
            .ToList();
    }
}
