using Azure.Storage.Queues.Models;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Testing;

/// <summary>
/// The Core services over a fresh, isolated storage of the shared Azurite: what tests of the intake, the
/// functions and the worker start from.
/// </summary>
public sealed class TestPipeline
{
    private TestPipeline(
        PipelineStorage storage, ModelRegistry registry, JobStatusService status, JobProgress progress, JobIntake intake)
    {
        Storage = storage;
        Registry = registry;
        Status = status;
        Progress = progress;
        Intake = intake;
    }

    /// <summary>The isolated storage.</summary>
    public PipelineStorage Storage { get; }

    /// <summary>The model registry.</summary>
    public ModelRegistry Registry { get; }

    /// <summary>The status service.</summary>
    public JobStatusService Status { get; }

    /// <summary>The progress service (what workers call).</summary>
    public JobProgress Progress { get; }

    /// <summary>The intake.</summary>
    public JobIntake Intake { get; }

    /// <summary>
    /// Services over new storage names (created) in <paramref name="azurite"/>. Callbacks follow <paramref name="callbackOptions"/>
    /// (by default the production defaults: https only, public addresses only) on the system clock, whatever <paramref name="time"/> is.
    /// </summary>
    public static async Task<TestPipeline> CreateAsync(
        AzuriteFixture azurite, TimeProvider? time = null, GenerationJobLimits? limits = null,
        JobStatusOptions? statusOptions = null, CallbackOptions? callbackOptions = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(azurite);
        PipelineStorage storage = await azurite.CreateStorageAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return Over(storage, time, limits, statusOptions, callbackOptions);
    }

    /// <summary>Services over storage that exists already (e.g. a <see cref="TestTraining"/>'s, to train and serve together).</summary>
    public static TestPipeline Over(
        PipelineStorage storage, TimeProvider? time = null, GenerationJobLimits? limits = null, JobStatusOptions? statusOptions = null,
        CallbackOptions? callbackOptions = null)
    {
        limits ??= new GenerationJobLimits();
        var registry = new ModelRegistry(storage, time);
        var status = new JobStatusService(storage, statusOptions, new JobCallbackClient(storage, callbackOptions), time);
        var progress = new JobProgress(status, time);
        var intake = new JobIntake(storage, registry, status, limits, time);
        return new TestPipeline(storage, registry, status, progress, intake);
    }

    /// <summary>
    /// Registers a model version with a small placeholder checkpoint file (the bytes are not a real model:
    /// Core never reads them) and, when <paramref name="promote"/>, makes it the latest.
    /// </summary>
    public async Task<ModelManifest> RegisterModelAsync(
        string model, string version, int? numClasses = 10, bool promote = true, CancellationToken cancellationToken = default)
    {
        using var checkpoint = new MemoryStream("placeholder checkpoint"u8.ToArray());
        string blobName = await Registry.UploadCheckpointAsync(model, version, checkpoint, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        var manifest = new ModelManifest { Model = model, Version = version, Checkpoint = blobName, NumClasses = numClasses };
        if (!promote)
        {
            return await Registry.RegisterVersionAsync(manifest, cancellationToken).ConfigureAwait(false);
        }

        ModelManifestEntry? latest = await Registry.GetLatestAsync(model, cancellationToken).ConfigureAwait(false);
        PromotionResult result = await Registry.PromoteAsync(manifest, latest?.ETag, cancellationToken).ConfigureAwait(false);
        return result.Promoted
            ? result.Latest!.Manifest
            : throw new InvalidOperationException($"Could not promote {model} {version}: another promotion got in between.");
    }

    /// <summary>Receives and deletes every message on the work queue, as work items.</summary>
    public async Task<IReadOnlyList<WorkItem>> DrainWorkQueueAsync(CancellationToken cancellationToken = default)
    {
        var items = new List<WorkItem>();
        while (true)
        {
            QueueMessage[] messages = (await Storage.WorkQueue
                .ReceiveMessagesAsync(maxMessages: 32, cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            if (messages.Length == 0)
            {
                return items;
            }

            foreach (QueueMessage message in messages)
            {
                items.Add(WorkItem.Parse(message.Body.ToString()));
                await Storage.WorkQueue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
