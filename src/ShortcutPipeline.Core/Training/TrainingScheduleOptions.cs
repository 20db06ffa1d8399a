namespace ShortcutPipeline.Core.Training;

/// <summary>
/// When training runs are launched by the timer (configuration section <see cref="SectionName"/>: app settings
/// <c>Training__Schedule</c>, <c>Training__Interval</c>, <c>Training__Request</c>, <c>Training__StaleAfter</c>).
/// </summary>
public sealed class TrainingScheduleOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Training";

    /// <summary>
    /// The NCRONTAB schedule (six fields, seconds first) of the timer function that runs <see cref="TrainingScheduler"/>;
    /// the Functions host reads it as <c>%Training:Schedule%</c>. Default: daily at 03:00 UTC.
    /// </summary>
    public string Schedule { get; set; } = "0 0 3 * * *";

    /// <summary>A run is due when the model's last successful run finished longer ago than this (default 7 days).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// The training request (JSON, without a run id) that scheduled runs use; each launch gets a new run id.
    /// Null or empty: the scheduler launches nothing.
    /// </summary>
    public string? Request { get; set; }

    /// <summary>A queued or running run that has not changed for this long no longer holds new runs back (default 1 day).</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromDays(1);
}
