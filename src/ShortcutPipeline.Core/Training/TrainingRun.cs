namespace ShortcutPipeline.Core.Training;

/// <summary>A training run as the runs table records it (what <c>GET /api/runs/{id}</c> answers).</summary>
public sealed record TrainingRun
{
    /// <summary>The run id.</summary>
    public required string RunId { get; init; }

    /// <summary>The model name (null when the request had no valid one).</summary>
    public string? Model { get; init; }

    /// <summary>Where the run stands.</summary>
    public required TrainingRunState State { get; init; }

    /// <summary>What launched it.</summary>
    public required TrainingTrigger Trigger { get; init; }

    /// <summary>The request (null when it broke the contract: see <see cref="RequestText"/> and <see cref="Reasons"/>).</summary>
    public TrainingRequest? Request { get; init; }

    /// <summary>The text of a request that broke the contract (cut at 16K characters).</summary>
    public string? RequestText { get; init; }

    /// <summary>Why the run failed.</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>The training step reached.</summary>
    public long Step { get; init; }

    /// <summary>The requested total.</summary>
    public long TotalSteps { get; init; }

    /// <summary>The step of the newest checkpoint in Blob Storage.</summary>
    public long? CheckpointStep { get; init; }

    /// <summary>The blob name (checkpoints container) of the newest resumable checkpoint.</summary>
    public string? LastCheckpoint { get; init; }

    /// <summary>The newest metrics: "loss", and "fd@{budget}" under a quality promotion policy.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>The version this run made the model's latest (the last one, when several were).</summary>
    public string? PromotedVersion { get; init; }

    /// <summary>Why no version was promoted, or what the last promotion attempt found.</summary>
    public string? PromotionNote { get; init; }

    /// <summary>How many times a trainer started on the run.</summary>
    public int Attempts { get; init; }

    /// <summary>The checkpoint step the latest attempt resumed from (null: it started from scratch).</summary>
    public long? ResumedFromStep { get; init; }

    /// <summary>The error that ended the latest crashed attempt, if any.</summary>
    public string? LastError { get; init; }

    /// <summary>The trainer (host name and process id) of the latest attempt.</summary>
    public string? Trainer { get; init; }

    /// <summary>See <see cref="TrainingRequest.ConfigurationFingerprint"/>.</summary>
    public string? ConfigurationFingerprint { get; init; }

    /// <summary>See <see cref="TrainingDatasets.FingerprintAsync"/>, taken at launch.</summary>
    public string? DatasetFingerprint { get; init; }

    /// <summary>When the run was launched.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the record last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When a trainer first started on it.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When it succeeded or failed.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>True once the launcher has put the request on the training queue.</summary>
    internal bool Enqueued { get; init; }

    /// <summary>The configuration fingerprint of a valid request, the hash of the message of a rejected one.</summary>
    internal string ContentHash { get; init; } = "";
}
