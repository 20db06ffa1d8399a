using ShortcutPipeline.Core.Queues;

namespace ShortcutPipeline.Worker;

/// <summary>
/// The worker's tuning (configuration section <see cref="SectionName"/>, e.g. the environment variable
/// <c>ShortcutPipeline__Worker__MaxBatchImages=64</c>; durations as <c>hh:mm:ss</c>). Every setting has a
/// default that works; a deployment only has to set the storage settings of <c>SettingNames</c>.
/// </summary>
public sealed class WorkerOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ShortcutPipeline:Worker";

    /// <summary>The most images in one sampler batch (default 64). A work item larger than this is split.</summary>
    public int MaxBatchImages { get; set; } = 64;

    /// <summary>How long a received work item may wait for its batch to fill before the batch runs anyway (default 2 s).</summary>
    public TimeSpan MaxBatchWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many images of received work items the worker holds, batched or waiting (default 0: twice
    /// <see cref="MaxBatchImages"/>). It stops receiving while it holds this many.
    /// </summary>
    public int MaxPendingImages { get; set; }

    /// <summary>How long a received message stays invisible; renewed every half of it while its batch runs (default 60 s).</summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Deliveries after which a failing message goes to the poison queue and its job fails (default 5).</summary>
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>How long a failed message waits before it is retried, times its dequeue count (default 2 s).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long to wait before asking an empty queue again (default 1 s).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often a running batch re-reads its jobs to notice cancellations (default 1 s).</summary>
    public TimeSpan CancellationPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the work queue's length is read for the queue-depth metric (default 10 s).</summary>
    public TimeSpan QueueDepthPollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>cpu, cuda, cuda:N, or auto (default: CUDA when available).</summary>
    public string Device { get; set; } = "auto";

    /// <summary>Sample with bfloat16 weights; default (null): on CUDA yes, on the CPU no.</summary>
    public bool? BFloat16 { get; set; }

    /// <summary>Where downloaded checkpoints are kept (default: shortcut-models under the temp folder).</summary>
    public string ModelCacheDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "shortcut-models");

    /// <summary>How many model versions stay loaded at once (default 2); the least recently used one is unloaded.</summary>
    public int LoadedModels { get; set; } = 2;

    /// <summary>The VAE decoder weights (diffusers safetensors) for latent-space models; not needed for pixel models.</summary>
    public string? VaePath { get; set; }

    /// <summary>How many PNG uploads run at once (default 16).</summary>
    public int UploadConcurrency { get; set; } = 16;

    /// <summary>
    /// How long the host waits on SIGTERM for the batch in flight to finish and be stored (default 120 s). Give the
    /// container at least this much grace period (Container Apps: terminationGracePeriodSeconds).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary><see cref="MaxPendingImages"/>, or its default.</summary>
    public int EffectiveMaxPendingImages => MaxPendingImages > 0 ? MaxPendingImages : 2 * MaxBatchImages;

    /// <summary>The receive, retry and poison settings of the work queue.</summary>
    public QueueReceiverOptions ReceiverOptions => new()
    {
        VisibilityTimeout = VisibilityTimeout,
        MaxDequeueCount = MaxDequeueCount,
        RetryDelay = RetryDelay,
    };

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    public void Validate()
    {
        static void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                throw new InvalidOperationException($"{SectionName}:{name} must be a positive duration, not {value}.");
            }
        }

        if (MaxBatchImages < 1 || LoadedModels < 1 || UploadConcurrency < 1 || MaxPendingImages < 0)
        {
            throw new InvalidOperationException(
                $"{SectionName}: {nameof(MaxBatchImages)}, {nameof(LoadedModels)} and {nameof(UploadConcurrency)} must be at least 1, {nameof(MaxPendingImages)} at least 0.");
        }

        if (MaxPendingImages > 0 && MaxPendingImages < MaxBatchImages)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxPendingImages)} must be at least {nameof(MaxBatchImages)} ({MaxBatchImages}).");
        }

        if (MaxBatchWait < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxBatchWait)} cannot be negative.");
        }

        Positive(PollInterval, nameof(PollInterval));
        Positive(CancellationPollInterval, nameof(CancellationPollInterval));
        Positive(QueueDepthPollInterval, nameof(QueueDepthPollInterval));
        Positive(ShutdownTimeout, nameof(ShutdownTimeout));
        if (string.IsNullOrWhiteSpace(ModelCacheDirectory))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(ModelCacheDirectory)} must name a folder.");
        }

        try
        {
            ReceiverOptions.Validate();
        }
        catch (ArgumentOutOfRangeException exception)
        {
            throw new InvalidOperationException($"{SectionName}: {exception.Message}", exception);
        }
    }
}
