using System.Diagnostics;
using System.Diagnostics.Metrics;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Core.Telemetry;

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
        Finished.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.JobState, PipelineTelemetry.Lower(record.JobState)));
        if (record.JobState == JobState.Completed && record.FinishedAt is DateTimeOffset finished)
        {
            Duration.Record((finished - record.CreatedAt).TotalSeconds, new TagList { { TelemetryAttributes.Model, record.Model } });
        }
    }
}
