namespace ShortcutPipeline.Core.Telemetry;

/// <summary>The attribute names of the pipeline's spans (<see cref="SpanNames"/>) and the tag names of its metrics.</summary>
public static class TelemetryAttributes
{
    /// <summary>The job id, on every span about a job (for a rejection under a derived id, the id the rejection is recorded under).</summary>
    public const string JobId = "shortcut.job_id";

    /// <summary>The training run id.</summary>
    public const string RunId = "shortcut.run_id";

    /// <summary>The model name.</summary>
    public const string Model = "shortcut.model";

    /// <summary>The model version.</summary>
    public const string ModelVersion = "shortcut.model_version";

    /// <summary>What the operation did (an <c>IntakeOutcome</c>, <c>ImageRecordOutcome</c> or <c>TrainingMessageOutcome</c>, lower case).</summary>
    public const string Outcome = "shortcut.outcome";

    /// <summary>The job's state after the operation (lower case).</summary>
    public const string JobState = "shortcut.job.state";

    /// <summary>How many images the operation concerns (a job's images at intake, the images recorded).</summary>
    public const string Images = "shortcut.images";

    /// <summary>How many images of the job are done after the operation.</summary>
    public const string DoneImages = "shortcut.job.done_images";

    /// <summary>How many images the job has.</summary>
    public const string TotalImages = "shortcut.job.total_images";

    /// <summary>The step budget of a job, or the total steps of a training run.</summary>
    public const string Steps = "shortcut.steps";

    /// <summary>How many work items the intake enqueued for a job.</summary>
    public const string WorkItems = "shortcut.job.work_items";

    /// <summary>The model preset of a training run.</summary>
    public const string Preset = "shortcut.training.preset";
}
