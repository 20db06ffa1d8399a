using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>
/// What a client sees of a job (GET /api/jobs/{id}, and the body of callbacks). JSON with
/// <see cref="PipelineJson.Options"/>: camelCase, enums as camelCase strings, nulls left out.
/// </summary>
public sealed record JobStatus
{
    /// <summary>The job id.</summary>
    public required string Id { get; init; }

    /// <summary>Where the job stands.</summary>
    public required JobState State { get; init; }

    /// <summary>Why the job was rejected (empty unless <see cref="JobState.Rejected"/>).</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>The model name.</summary>
    public string? Model { get; init; }

    /// <summary>The model version resolved at intake.</summary>
    public string? ModelVersion { get; init; }

    /// <summary>Sampling steps.</summary>
    public int? Steps { get; init; }

    /// <summary>Classifier-free guidance scale.</summary>
    public double? CfgScale { get; init; }

    /// <summary>The job seed (the client's or the derived one).</summary>
    public long? Seed { get; init; }

    /// <summary>The priority.</summary>
    public JobPriority? Priority { get; init; }

    /// <summary>The deadline, if any.</summary>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>How many images the job asks for.</summary>
    public int TotalImages { get; init; }

    /// <summary>How many of them are done.</summary>
    public int DoneImages { get; init; }

    /// <summary>DoneImages / TotalImages (0 for a job without images).</summary>
    public double Progress => TotalImages == 0 ? 0 : (double)DoneImages / TotalImages;

    /// <summary>The finished images, by index.</summary>
    public IReadOnlyList<JobImage> Images { get; init; } = [];

    /// <summary>When the job was submitted.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the record last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When a worker started on it.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When it reached a terminal state.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>Why it failed.</summary>
    public string? Error { get; init; }
}

/// <summary>One finished image.</summary>
/// <param name="Index">The image index within the job.</param>
/// <param name="BlobName">The blob name in the images container (<see cref="ImageBlobNames.For"/>).</param>
/// <param name="Url">A link to it (SAS or plain, per <see cref="JobStatusOptions.ImageLinks"/>).</param>
public sealed record JobImage(int Index, string BlobName, Uri Url);

/// <summary>A message as submitted, as the status record keeps it.</summary>
/// <param name="Text">The message text (UTF-8; cut at the storage limit when <paramref name="Truncated"/>).</param>
/// <param name="Bytes">The original size in UTF-8 bytes.</param>
/// <param name="Truncated">True when <paramref name="Text"/> is only the beginning of the message.</param>
/// <param name="MessageId">The queue message id (or request id) it came with, if any.</param>
public sealed record SubmittedMessage(string Text, int Bytes, bool Truncated, string? MessageId);

/// <summary>The outcome of <see cref="JobStatusService.CancelAsync"/>.</summary>
public enum CancelOutcome
{
    /// <summary>The job is cancelled now.</summary>
    Cancelled,

    /// <summary>The job had finished already (completed, failed, cancelled or rejected): nothing changed.</summary>
    AlreadyFinished,

    /// <summary>No job has that id.</summary>
    NotFound,
}

/// <summary>The outcome of a cancellation and the job's status after it (null when not found).</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Status">The job's status afterwards.</param>
public sealed record CancelResult(CancelOutcome Outcome, JobStatus? Status);
