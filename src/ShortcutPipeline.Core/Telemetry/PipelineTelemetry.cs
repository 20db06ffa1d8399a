using System.Diagnostics;
using System.Diagnostics.Metrics;
using ShortcutPipeline.Core.Jobs;

// What the pipeline emits: its activity source and span helper (PipelineTelemetry), the span names (SpanNames), the
// attribute and tag names (TelemetryAttributes) and the job metrics (JobMetrics). Where it goes: TelemetryServiceCollectionExtensions.cs.

namespace ShortcutPipeline.Core.Telemetry;

/// <summary>
/// The pipeline's own spans: one <see cref="ActivitySource"/> (<see cref="SourceName"/>) for the intake, the job status
/// changes, the recording of images and the trainer's runs, with the names of <see cref="SpanNames"/> and the attributes of
/// <see cref="TelemetryAttributes"/>; every span about a job carries its id (<see cref="TelemetryAttributes.JobId"/>). What exports
/// them is set up by <see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/>.
/// </summary>
public static class PipelineTelemetry
{
    /// <summary>The name of the activity source (and of the meter of <see cref="JobMetrics"/>).</summary>
    public const string SourceName = "ShortcutPipeline";

    /// <summary>The activity source.</summary>
    public static ActivitySource Source { get; } = new(SourceName, typeof(PipelineTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>
    /// Runs <paramref name="body"/> in a span named <paramref name="name"/> (a child of the current one), for job
    /// <paramref name="jobId"/> when given. An exception marks the span as failed (status Error, with an exception event)
    /// and is rethrown. The span handed to <paramref name="body"/> is null when nothing listens.
    /// </summary>
    public static async Task<T> TraceAsync<T>(string name, string? jobId, Func<Activity?, Task<T>> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(body);
        using Activity? activity = Source.StartActivity(name, ActivityKind.Internal);
        activity?.SetTag(TelemetryAttributes.JobId, jobId);
        try
        {
            return await body(activity).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity?.AddException(exception);
            throw;
        }
    }

    /// <summary>An enum value as the spans and metrics write it (lower case).</summary>
    public static string Lower<TEnum>(TEnum value) where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}

/// <summary>The service names (cloud roles) the pipeline's processes report their telemetry under.</summary>
public static class ServiceNames
{
    /// <summary>The Functions app.</summary>
    public const string Functions = "shortcut-functions";

    /// <summary>The GPU worker.</summary>
    public const string Worker = "shortcut-worker";

    /// <summary>The trainer.</summary>
    public const string Trainer = "shortcut-trainer";
}

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

/// <summary>
/// The metrics of the intake and of job progress, on the meter <see cref="MeterName"/>: jobs submitted by outcome,
/// images accepted, images recorded, jobs finished by state and how long completed jobs took. The Functions app, the
/// worker and the trainer export them (<see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/>).
/// </summary>
public static class JobMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = PipelineTelemetry.SourceName;

    /// <summary>Job messages taken by the intake, tagged <see cref="TelemetryAttributes.Outcome"/> (accepted, duplicate, rejected).</summary>
    public const string JobsSubmitted = "shortcut.jobs.submitted";

    /// <summary>Images of accepted jobs.</summary>
    public const string ImagesAccepted = "shortcut.jobs.images_accepted";

    /// <summary>Images recorded as stored (each index once), tagged <see cref="TelemetryAttributes.Model"/>.</summary>
    public const string ImagesRecorded = "shortcut.jobs.images_recorded";

    /// <summary>Jobs that reached completed, failed or cancelled, tagged <see cref="TelemetryAttributes.JobState"/>.</summary>
    public const string JobsFinished = "shortcut.jobs.finished";

    /// <summary>Seconds from a job's intake to its last image, for completed jobs, tagged <see cref="TelemetryAttributes.Model"/>.</summary>
    public const string JobDuration = "shortcut.jobs.duration";

    private static readonly Meter Meter = new(MeterName, typeof(JobMetrics).Assembly.GetName().Version?.ToString());
    private static readonly Counter<long> Submitted = Meter.CreateCounter<long>(JobsSubmitted, "{job}", "Job messages taken by the intake.");
    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>(ImagesAccepted, "{image}", "Images of accepted jobs.");
    private static readonly Counter<long> Recorded = Meter.CreateCounter<long>(ImagesRecorded, "{image}", "Images recorded as stored.");
    private static readonly Counter<long> Finished = Meter.CreateCounter<long>(JobsFinished, "{job}", "Jobs that completed, failed or were cancelled.");
    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(JobDuration, "s", "Time from a job's intake to its last image.");

    internal static void RecordSubmission(IntakeOutcome outcome) =>
        Submitted.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.Outcome, PipelineTelemetry.Lower(outcome)));

    internal static void RecordAcceptedImages(int images) => Accepted.Add(images);

    internal static void RecordImages(int images, string? model)
    {
        if (images > 0)
        {
            Recorded.Add(images, new KeyValuePair<string, object?>(TelemetryAttributes.Model, model));
        }
    }

    internal static void RecordFinished(JobStatusRecord record)
    {
        Finished.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.JobState, PipelineTelemetry.Lower(record.State)));
        if (record.State == JobState.Completed && record.FinishedAt is DateTimeOffset finished)
        {
            Duration.Record((finished - record.CreatedAt).TotalSeconds, new TagList { { TelemetryAttributes.Model, record.Model } });
        }
    }
}
