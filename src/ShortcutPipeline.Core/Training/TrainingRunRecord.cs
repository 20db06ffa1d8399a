using System.Runtime.Serialization;

namespace ShortcutPipeline.Core.Training;

/// <summary>
/// The entity of one training run in the runs table (partition key: the run id; row key: <see cref="RunRowKey"/>).
/// Every change goes through <see cref="TrainingRunStore"/> with optimistic concurrency.
/// </summary>
internal sealed class TrainingRunRecord() : LifecycleRecord<TrainingRunState>(RunRowKey, TrainingRunState.Queued)
{
    public const string RunRowKey = "run";

    /// <summary>How much of an unreadable request the record keeps (characters; a table property holds 32K).</summary>
    public const int MaxRequestTextLength = 16 * 1024;

    public TrainingTrigger Trigger { get; set; } = TrainingTrigger.Manual;
    public string? Model { get; set; }
    public string? RequestJson { get; set; }
    public string? RequestText { get; set; }
    public string ContentHash { get; set; } = "";
    public string? ConfigurationFingerprint { get; set; }
    public string? DatasetFingerprint { get; set; }
    public long Step { get; set; }
    public long TotalSteps { get; set; }
    public long? CheckpointStep { get; set; }
    public string? LastCheckpoint { get; set; }
    public string? MetricsJson { get; set; }
    public string? PromotedVersion { get; set; }
    public string? PromotionNote { get; set; }
    public int Attempts { get; set; }
    public long? ResumedFromStep { get; set; }
    public string? LastError { get; set; }
    public string? Trainer { get; set; }
    public bool Enqueued { get; set; }

    [IgnoreDataMember]
    public Dictionary<string, double> Metrics
    {
        get => MetricsJson is null ? [] : JsonSerializer.Deserialize<Dictionary<string, double>>(MetricsJson) ?? [];
        set => MetricsJson = value.Count == 0 ? null : JsonSerializer.Serialize(value);
    }

    public TrainingRun ToRun() => new()
    {
        RunId = PartitionKey,
        Model = Model,
        State = State,
        Trigger = Trigger,
        Request = RequestJson is null ? null : JsonSerializer.Deserialize<TrainingRequest>(RequestJson, PipelineJson.Options),
        RequestText = RequestText,
        Reasons = Reasons,
        Step = Step,
        TotalSteps = TotalSteps,
        CheckpointStep = CheckpointStep,
        LastCheckpoint = LastCheckpoint,
        Metrics = Metrics,
        PromotedVersion = PromotedVersion,
        PromotionNote = PromotionNote,
        Attempts = Attempts,
        ResumedFromStep = ResumedFromStep,
        LastError = LastError,
        Trainer = Trainer,
        ConfigurationFingerprint = ConfigurationFingerprint,
        DatasetFingerprint = DatasetFingerprint,
        CreatedAt = CreatedAt,
        UpdatedAt = UpdatedAt,
        StartedAt = StartedAt,
        FinishedAt = FinishedAt,
        Enqueued = Enqueued,
        ContentHash = ContentHash,
    };
}
