using System.Text.RegularExpressions;

namespace ShortcutPipeline.Core.Storage;

/// <summary>
/// The queue, container and table names the services use. They default to the constants in
/// <see cref="StorageNames"/>; tests (and side-by-side deployments) give each run its own names with
/// <see cref="WithPrefix"/>. Bound from the configuration section <see cref="SectionName"/>.
/// </summary>
public sealed partial class PipelineStorageOptions
{
    /// <summary>The configuration section these options bind from (<c>ShortcutPipeline__Storage__JobsQueue</c>, ...).</summary>
    public const string SectionName = "ShortcutPipeline:Storage";

    /// <summary>Users' generation jobs.</summary>
    public string JobsQueue { get; set; } = StorageNames.JobsQueue;

    /// <summary>Validated work items for the GPU workers.</summary>
    public string WorkQueue { get; set; } = StorageNames.WorkQueue;

    /// <summary>Training requests.</summary>
    public string TrainingQueue { get; set; } = StorageNames.TrainingQueue;

    /// <summary>Generated images.</summary>
    public string ImagesContainer { get; set; } = StorageNames.ImagesContainer;

    /// <summary>Checkpoints and the model registry.</summary>
    public string CheckpointsContainer { get; set; } = StorageNames.CheckpointsContainer;

    /// <summary>Training data.</summary>
    public string DatasetsContainer { get; set; } = StorageNames.DatasetsContainer;

    /// <summary>Job status records.</summary>
    public string JobsTable { get; set; } = StorageNames.JobsTable;

    /// <summary>Training run records.</summary>
    public string RunsTable { get; set; } = StorageNames.RunsTable;

    /// <summary>All queue names (without their poison queues).</summary>
    public IReadOnlyList<string> Queues => [JobsQueue, WorkQueue, TrainingQueue];

    /// <summary>All container names.</summary>
    public IReadOnlyList<string> Containers => [ImagesContainer, CheckpointsContainer, DatasetsContainer];

    /// <summary>All table names.</summary>
    public IReadOnlyList<string> Tables => [JobsTable, RunsTable];

    /// <summary>
    /// These names as configuration settings (<c>ShortcutPipeline:Storage:JobsQueue</c> and so on; as environment
    /// variables, replace ':' with "__"), for configuring another process or host with the same names.
    /// </summary>
    public IReadOnlyDictionary<string, string> ToSettings() => new Dictionary<string, string>
    {
        [$"{SectionName}:{nameof(JobsQueue)}"] = JobsQueue,
        [$"{SectionName}:{nameof(WorkQueue)}"] = WorkQueue,
        [$"{SectionName}:{nameof(TrainingQueue)}"] = TrainingQueue,
        [$"{SectionName}:{nameof(ImagesContainer)}"] = ImagesContainer,
        [$"{SectionName}:{nameof(CheckpointsContainer)}"] = CheckpointsContainer,
        [$"{SectionName}:{nameof(DatasetsContainer)}"] = DatasetsContainer,
        [$"{SectionName}:{nameof(JobsTable)}"] = JobsTable,
        [$"{SectionName}:{nameof(RunsTable)}"] = RunsTable,
    };

    /// <summary>
    /// Options whose every name starts with <paramref name="prefix"/> (queues and containers as
    /// <c>{prefix}-{name}</c>, tables as <c>{prefix}{name}</c> since table names allow no hyphen), so that
    /// several users of one storage account never see each other's messages, blobs or entities.
    /// </summary>
    /// <param name="prefix">1 to 20 characters: a lowercase letter, then lowercase letters or digits.</param>
    public static PipelineStorageOptions WithPrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (!PrefixPattern().IsMatch(prefix))
        {
            throw new ArgumentException(
                $"The storage name prefix '{prefix}' must be 1 to 20 characters: a lowercase letter, then lowercase letters or digits.",
                nameof(prefix));
        }

        var defaults = new PipelineStorageOptions();
        return new PipelineStorageOptions
        {
            JobsQueue = $"{prefix}-{defaults.JobsQueue}",
            WorkQueue = $"{prefix}-{defaults.WorkQueue}",
            TrainingQueue = $"{prefix}-{defaults.TrainingQueue}",
            ImagesContainer = $"{prefix}-{defaults.ImagesContainer}",
            CheckpointsContainer = $"{prefix}-{defaults.CheckpointsContainer}",
            DatasetsContainer = $"{prefix}-{defaults.DatasetsContainer}",
            JobsTable = prefix + defaults.JobsTable,
            RunsTable = prefix + defaults.RunsTable,
        };
    }

    [GeneratedRegex("^[a-z][a-z0-9]{0,19}$")]
    private static partial Regex PrefixPattern();
}
