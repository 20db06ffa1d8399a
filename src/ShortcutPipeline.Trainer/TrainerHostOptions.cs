namespace ShortcutPipeline.Trainer;

/// <summary>
/// How the trainer host works (configuration section <see cref="SectionName"/>, e.g. the environment variable
/// <c>ShortcutPipeline__Trainer__VisibilityTimeout=00:05:00</c>).
/// </summary>
public sealed class TrainerHostOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ShortcutPipeline:Trainer";

    /// <summary>Where runs are trained locally (one fresh sub-folder per attempt, deleted afterwards).</summary>
    public string WorkDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "shortcut-trainer");

    /// <summary>
    /// How long a received request stays invisible on the queue; renewed every third of it while training, so a
    /// crashed trainer's request is delivered again (and resumed) this long after its last renewal. Default 5 minutes.
    /// </summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The blob lease on the run (15 to 60 seconds, renewed every third of it). Default 60 seconds.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>When another trainer holds the run's lease, the request is left alone and shows again after this. Default 1 minute.</summary>
    public TimeSpan BusyRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>With <c>--once</c>: how long to wait for a request that this trainer can take before exiting. Default 1 minute.</summary>
    public TimeSpan WaitForMessage { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often an empty (or busy) queue is polled again. Default 5 seconds.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the run's step is written to the runs table between checkpoints. Default 15 seconds.</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// A run that trainers started this often without finishing fails instead of starting again. Default 5. (Deliveries
    /// that found the run leased by another trainer do not count.)
    /// </summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Resumable checkpoints kept per run in Blob Storage (older ones are deleted; sampling exports and grids stay). Default 2.</summary>
    public int KeepCheckpoints { get; set; } = 2;

    /// <summary>cpu, cuda, cuda:N, or auto (cuda when available; the default).</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Throws when an option is out of range.</summary>
    public void Validate()
    {
        if (VisibilityTimeout < TimeSpan.FromSeconds(3) || VisibilityTimeout > TimeSpan.FromDays(7))
            throw new InvalidOperationException($"{SectionName}:{nameof(VisibilityTimeout)} must be from 3 seconds to 7 days; it is {VisibilityTimeout}.");
        if (LeaseDuration < TimeSpan.FromSeconds(15) || LeaseDuration > TimeSpan.FromSeconds(60))
            throw new InvalidOperationException($"{SectionName}:{nameof(LeaseDuration)} must be from 15 to 60 seconds (a blob lease); it is {LeaseDuration}.");
        if (BusyRetryDelay < TimeSpan.Zero || WaitForMessage < TimeSpan.Zero || PollInterval <= TimeSpan.Zero || ProgressInterval <= TimeSpan.Zero)
            throw new InvalidOperationException($"{SectionName}: the delays and intervals must be positive.");
        if (MaxAttempts < 1 || KeepCheckpoints < 1)
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxAttempts)} and {nameof(KeepCheckpoints)} must be at least 1.");
        if (string.IsNullOrWhiteSpace(WorkDirectory))
            throw new InvalidOperationException($"{SectionName}:{nameof(WorkDirectory)} must be set.");
    }
}
