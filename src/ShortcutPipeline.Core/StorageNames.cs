namespace ShortcutPipeline.Core;

/// <summary>
/// The one place that names every queue, blob container, table and app setting of the pipeline.
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
    /// Checkpoints and the model registry: checkpoints/{model}/{runId}/step-{n}.safetensors, the pointer
    /// checkpoints/{model}/latest.json and checkpoints/{model}/versions/{version}.json (see <c>ModelRegistry</c>).
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
