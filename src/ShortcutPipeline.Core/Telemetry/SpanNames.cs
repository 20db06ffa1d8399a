namespace ShortcutPipeline.Core.Telemetry;

/// <summary>The names of the spans of <see cref="PipelineTelemetry.Source"/>.</summary>
public static class SpanNames
{
    /// <summary>One job message taken by the intake (<c>JobIntake.SubmitAsync</c>): accepted, duplicate or rejected.</summary>
    public const string SubmitJob = "shortcut.job.submit";

    /// <summary>A worker moves a queued job to running (<c>JobProgress.MarkRunningAsync</c>).</summary>
    public const string StartJob = "shortcut.job.start";

    /// <summary>Stored images of a job are counted (<c>JobProgress.RecordImagesAsync</c>); the last one completes the job.</summary>
    public const string RecordImages = "shortcut.job.record_images";

    /// <summary>A job fails (<c>JobProgress.MarkFailedAsync</c>).</summary>
    public const string FailJob = "shortcut.job.fail";

    /// <summary>A user cancels a job (<c>JobStatusService.CancelAsync</c>).</summary>
    public const string CancelJob = "shortcut.job.cancel";

    /// <summary>The trainer takes one training request (<c>TrainingRunner.ProcessAsync</c>).</summary>
    public const string TrainingRun = "shortcut.training.run";
}
