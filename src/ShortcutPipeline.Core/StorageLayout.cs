using System.Text.RegularExpressions;
using ShortcutPipeline.Core.Training;

// The storage layout of the pipeline, in one place: every queue (and its poison queue), blob container and table name
// (StorageNames, and PipelineStorageOptions for the names a deployment or test run uses), and every blob name inside the
// containers: the images (ImageBlobNames), the model registry (ModelBlobNames) and the training runs (TrainingBlobNames).
// The code, the local run and the infrastructure tests all read these; app-setting names are in SettingNames (below).

namespace ShortcutPipeline.Core;

/// <summary>
/// The one place that names every queue, blob container and table of the pipeline (app settings: <see cref="SettingNames"/>).
/// The functions, the worker, the trainer, the local run and the infrastructure tests all read these.
/// </summary>
public static class StorageNames
{
    /// <summary>Users' generation jobs (JSON), enqueued directly or by the HTTP submit endpoint.</summary>
    public const string JobsQueue = "generation-jobs";

    /// <summary>Validated work items for the GPU workers; KEDA scales the worker on its length.</summary>
    public const string WorkQueue = "generation-work";

    /// <summary>Training requests; an event-triggered Container Apps Job runs the trainer on each.</summary>
    public const string TrainingQueue = "training-runs";

    /// <summary>Where a message goes after it has failed too often (the Functions host's naming).</summary>
    public static string PoisonQueueOf(string queue) => queue + "-poison";

    /// <summary>Generated PNGs: images/{jobId}/{index}.png (blob names from <see cref="ImageBlobNames"/>).</summary>
    public const string ImagesContainer = "images";

    /// <summary>
    /// Checkpoints and the model registry: checkpoints/{model}/{runId}/step-{n}.safetensors (<see cref="TrainingBlobNames"/>), the
    /// pointer checkpoints/{model}/latest.json and checkpoints/{model}/versions/{version}.json (<see cref="ModelBlobNames"/>).
    /// </summary>
    public const string CheckpointsContainer = "checkpoints";

    /// <summary>Training data uploaded as blobs (an image folder under a prefix).</summary>
    public const string DatasetsContainer = "datasets";

    /// <summary>Job status records (one entity per job).</summary>
    public const string JobsTable = "jobs";

    /// <summary>Training run records (one entity per run).</summary>
    public const string RunsTable = "runs";

    /// <summary>
    /// The name of the storage connection. Locally it is a connection string setting of this name;
    /// in Azure it is the identity-based form: ShortcutStorage__blobServiceUri, __queueServiceUri,
    /// __tableServiceUri, __credential=managedidentity and __clientId.
    /// </summary>
    public const string ConnectionName = "ShortcutStorage";

    /// <summary>Every queue above (without the poison queues).</summary>
    public static readonly IReadOnlyList<string> Queues = [JobsQueue, WorkQueue, TrainingQueue];

    /// <summary>Every blob container above.</summary>
    public static readonly IReadOnlyList<string> Containers = [ImagesContainer, CheckpointsContainer, DatasetsContainer];

    /// <summary>Every table above.</summary>
    public static readonly IReadOnlyList<string> Tables = [JobsTable, RunsTable];
}

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
    /// The configuration settings that point another process or host at this storage: <paramref name="connectionString"/>
    /// (<see cref="SettingNames.StorageConnection"/>) and these names (<c>ShortcutPipeline:Storage:JobsQueue</c> and so on; as
    /// environment variables, replace ':' with "__"). The caller may add its own settings.
    /// </summary>
    public Dictionary<string, string?> ToSettings(string connectionString) => new()
    {
        [SettingNames.StorageConnection] = connectionString,
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

/// <summary>
/// Names of the generated images inside the <see cref="StorageNames.ImagesContainer"/> container:
/// <c>{jobId}/{index}.png</c>. The worker writes them and the status service links them, both through here.
/// </summary>
public static class ImageBlobNames
{
    /// <summary>The blob name of image <paramref name="index"/> (0-based) of job <paramref name="jobId"/>.</summary>
    public static string For(string jobId, int index)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return string.Create(CultureInfo.InvariantCulture, $"{jobId}/{index}.png");
    }

    /// <summary>The prefix under which all images of job <paramref name="jobId"/> lie (for listing).</summary>
    public static string PrefixOf(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return jobId + "/";
    }
}

/// <summary>
/// Names of the model registry's blobs inside the <see cref="StorageNames.CheckpointsContainer"/> container:
/// <c>{model}/latest.json</c> (the manifest of the promoted version, the pointer workers follow),
/// <c>{model}/versions/{version}.json</c> (one immutable manifest per registered version) and, for a checkpoint uploaded
/// through <c>ModelRegistry.UploadCheckpointAsync</c>, <c>{model}/{version}/{file}</c>. Model names and versions follow
/// <see cref="GenerationJobReader.ModelNameRule"/>.
/// </summary>
public static class ModelBlobNames
{
    /// <summary>The checkpoint file name <c>ModelRegistry.UploadCheckpointAsync</c> uses by default.</summary>
    public const string DefaultCheckpointFileName = "model.safetensors";

    private const string ManifestSuffix = ".json";

    /// <summary>The blob name of a model's latest pointer: <c>{model}/latest.json</c>.</summary>
    /// <exception cref="ArgumentException"><paramref name="model"/> is not a valid model name.</exception>
    public static string Latest(string model) => CheckName(model, nameof(model)) + "/latest" + ManifestSuffix;

    /// <summary>The blob name of a version's manifest: <c>{model}/versions/{version}.json</c>.</summary>
    /// <exception cref="ArgumentException">The model name or the version is not valid.</exception>
    public static string Version(string model, string version) => VersionsPrefix(model) + CheckName(version, nameof(version)) + ManifestSuffix;

    /// <summary>The prefix under which a model's version manifests lie: <c>{model}/versions/</c>.</summary>
    public static string VersionsPrefix(string model) => CheckName(model, nameof(model)) + "/versions/";

    /// <summary>True for the blob name of a version manifest under <see cref="VersionsPrefix"/>.</summary>
    public static bool IsManifest(string blobName) => blobName.EndsWith(ManifestSuffix, StringComparison.Ordinal);

    /// <summary>The default blob name of a version's checkpoint file: <c>{model}/{version}/{fileName}</c>.</summary>
    /// <exception cref="ArgumentException">The model name or the version is not valid, or the file name is not a plain file name.</exception>
    public static string Checkpoint(string model, string version, string fileName = DefaultCheckpointFileName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        if (fileName.Contains('/', StringComparison.Ordinal) || fileName is "." or "..")
        {
            throw new ArgumentException($"The checkpoint file name '{fileName}' must be a plain file name.", nameof(fileName));
        }

        return $"{CheckName(model, nameof(model))}/{CheckName(version, nameof(version))}/{fileName}";
    }

    /// <summary><paramref name="name"/> when it is a valid model name or version, else an <see cref="ArgumentException"/> for <paramref name="parameterName"/>.</summary>
    internal static string CheckName(string name, string parameterName)
    {
        if (!GenerationJobReader.IsValidModelName(name))
        {
            throw new ArgumentException(
                $"'{name}' is not a valid model name or version: {GenerationJobReader.ModelNameRule}.",
                parameterName);
        }

        return name;
    }
}

/// <summary>
/// The blob names of a training run in the checkpoints container (<see cref="StorageNames.CheckpointsContainer"/>),
/// all under <c>{model}/{runId}/</c>: the resumable checkpoints <c>step-{n}.safetensors</c> (weights, EMA weights,
/// optimizer state, step, config and metrics), the sampling exports <c>step-{n}.sampling.safetensors</c> (the EMA
/// weights: what a registered version points at), the sample grids <c>step-{n}.grid.png</c> (budgets 1, 4 and 128),
/// the loss curve <c>loss.csv</c> and <c>loss.png</c>, the run's quality classifier, and <c>.lease</c>, the blob whose
/// lease a trainer holds while it works on the run. The file names are those the model library's training loop
/// writes locally (the trainer's tests check that they agree).
/// </summary>
public static class TrainingBlobNames
{
    /// <summary>The name of the lease blob inside a run's folder.</summary>
    public const string LeaseFileName = ".lease";

    /// <summary>The loss table inside a run's folder.</summary>
    public const string LossCsvFileName = "loss.csv";

    /// <summary>The loss plot inside a run's folder.</summary>
    public const string LossPlotFileName = "loss.png";

    /// <summary>The run's feature classifier for quality-based promotion.</summary>
    public const string QualityClassifierFileName = "quality-classifier.safetensors";

    private const string StepPrefix = "step-";
    private const string CheckpointSuffix = ".safetensors";

    /// <summary>The folder of a run: <c>{model}/{runId}/</c>.</summary>
    public static string RunPrefix(string model, string runId)
    {
        if (!GenerationJobReader.IsValidModelName(model))
        {
            throw new ArgumentException($"'{model}' is not a valid model name.", nameof(model));
        }

        if (!TrainingRequestReader.IsValidRunId(runId))
        {
            throw new ArgumentException($"'{runId}' is not a valid run id.", nameof(runId));
        }

        return $"{model}/{runId}/";
    }

    /// <summary>A file of the run's folder.</summary>
    public static string File(string model, string runId, string fileName) => RunPrefix(model, runId) + fileName;

    /// <summary>The resumable checkpoint of step <paramref name="step"/>.</summary>
    public static string Checkpoint(string model, string runId, long step) => File(model, runId, CheckpointFileName(step));

    /// <summary>The sampling export (EMA weights) of step <paramref name="step"/>.</summary>
    public static string SamplingModel(string model, string runId, long step) =>
        File(model, runId, string.Create(CultureInfo.InvariantCulture, $"{StepPrefix}{step}.sampling{CheckpointSuffix}"));

    /// <summary>The sample grid of step <paramref name="step"/>.</summary>
    public static string SampleGrid(string model, string runId, long step) =>
        File(model, runId, string.Create(CultureInfo.InvariantCulture, $"{StepPrefix}{step}.grid.png"));

    /// <summary>The file name of a resumable checkpoint: <c>step-{n}.safetensors</c>.</summary>
    public static string CheckpointFileName(long step) => string.Create(CultureInfo.InvariantCulture, $"{StepPrefix}{step}{CheckpointSuffix}");

    /// <summary>The step of a resumable checkpoint's blob or file name (<c>.../step-{n}.safetensors</c>); null for any other name.</summary>
    public static long? CheckpointStepOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string fileName = name[(name.LastIndexOf('/') + 1)..];
        if (!fileName.StartsWith(StepPrefix, StringComparison.Ordinal) || !fileName.EndsWith(CheckpointSuffix, StringComparison.Ordinal))
        {
            return null;
        }

        string digits = fileName[StepPrefix.Length..^CheckpointSuffix.Length];
        return digits.Length > 0 && digits.All(char.IsAsciiDigit)
            && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long step) ? step : null;
    }

    /// <summary>The registry version of a run's checkpoint: <c>{runId}-step-{n}</c> (a valid version name for every valid run id).</summary>
    public static string VersionName(string runId, long step)
    {
        string version = string.Create(CultureInfo.InvariantCulture, $"{runId}-{StepPrefix}{step}");
        return GenerationJobReader.IsValidModelName(version)
            ? version
            : throw new ArgumentException($"'{runId}' and step {step} make no valid version name.", nameof(runId));
    }
}

/// <summary>
/// The app settings (environment variables) that the functions, the worker and the trainer read.
/// Infrastructure tests check that both deployment stacks set each of them. A double underscore
/// is the environment-variable form of a configuration section separator.
/// </summary>
public static class SettingNames
{
    /// <summary>Local: a storage connection string. Azure: the identity-based settings below.</summary>
    public const string StorageConnection = StorageNames.ConnectionName;

    /// <summary>Azure: the blob service URI of the storage account (identity-based connection).</summary>
    public const string StorageBlobServiceUri = StorageNames.ConnectionName + "__blobServiceUri";

    /// <summary>Azure: the queue service URI of the storage account (identity-based connection).</summary>
    public const string StorageQueueServiceUri = StorageNames.ConnectionName + "__queueServiceUri";

    /// <summary>Azure: the table service URI of the storage account (identity-based connection).</summary>
    public const string StorageTableServiceUri = StorageNames.ConnectionName + "__tableServiceUri";

    /// <summary>Azure: <c>managedidentity</c> to use a managed identity; otherwise DefaultAzureCredential is used.</summary>
    public const string StorageCredential = StorageNames.ConnectionName + "__credential";

    /// <summary>Azure: the client id of the user-assigned managed identity (absent: the system-assigned one).</summary>
    public const string StorageClientId = StorageNames.ConnectionName + "__clientId";

    /// <summary>
    /// The Functions app: the NCRONTAB schedule of the training timer (six fields, seconds first), read by the host as
    /// <c>%Training:Schedule%</c>; it must be set or the Functions host does not start. See <c>TrainingScheduleOptions</c>.
    /// </summary>
    public const string TrainingSchedule = "Training__Schedule";

    /// <summary>The Functions app: how long after the last successful run of a model a new one is due (a TimeSpan, e.g. 7.00:00:00).</summary>
    public const string TrainingInterval = "Training__Interval";

    /// <summary>The Functions app: the training request (JSON, without a run id) that the timer launches; empty: none.</summary>
    public const string TrainingRequest = "Training__Request";

    /// <summary>
    /// The connection string of Application Insights: when set, the functions, the worker and the trainer export their traces,
    /// metrics and logs there (see <c>Telemetry.TelemetryOptions</c>); when not, to standard output.
    /// </summary>
    public const string ApplicationInsightsConnectionString = "APPLICATIONINSIGHTS_CONNECTION_STRING";
}
