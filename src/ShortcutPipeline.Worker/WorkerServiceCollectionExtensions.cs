using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Worker;

/// <summary>
/// The worker's own process: <c>shortcut worker</c>, the worker app of the GPU image. The storage settings (SettingNames: a
/// ShortcutStorage connection string locally, the identity-based ShortcutStorage__*ServiceUri settings in Azure),
/// ShortcutPipeline__Storage__* names and the ShortcutPipeline__Worker__* tuning (WorkerOptions, ModelPreloadOptions), the
/// health port (ShortcutPipeline__Health__Port) and APPLICATIONINSIGHTS_CONNECTION_STRING (telemetry; without it, to the
/// console) come from the environment, or from <c>--Name=value</c> arguments. SIGTERM stops it gracefully: the rows in
/// flight are finished and stored (<see cref="WorkerOptions.ShutdownTimeout"/>).
/// </summary>
public static class WorkerHost
{
    /// <summary>Runs the worker until it is stopped (SIGTERM, Ctrl+C) or <paramref name="cancellationToken"/> is cancelled.</summary>
    public static async Task RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
            console.UseUtcTimestamp = true;
        });
        builder.Services.AddShortcutPipelineCore(builder.Configuration);
        builder.Services.AddShortcutPipelineWorker(builder.Configuration);
        builder.Services.AddShortcutPipelineWorkerHost(builder.Configuration);
        using IHost host = builder.Build();
        await host.RunAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Registers the worker (the worker host and the local run call this after <c>AddShortcutPipelineCore</c>).</summary>
public static class WorkerServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="WorkerOptions"/> (bound from <see cref="WorkerOptions.SectionName"/> and validated at start),
    /// the singletons <see cref="SamplingService"/>, <see cref="ImageWriter"/> and <see cref="WorkerMetrics"/>, the
    /// hosted <see cref="WorkerService"/>, and a host shutdown timeout of <see cref="WorkerOptions.ShutdownTimeout"/>.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineWorker(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WorkerOptions>().Bind(configuration.GetSection(WorkerOptions.SectionName))
            .Validate(options => { options.Validate(); return true; })
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<WorkerOptions>>().Value);
        services.AddOptions<HostOptions>().Configure<IOptions<WorkerOptions>>((host, worker) => host.ShutdownTimeout = worker.Value.ShutdownTimeout);
        services.AddMetrics();
        services.TryAddSingleton<SamplingService>();
        services.TryAddSingleton<ImageWriter>();
        services.TryAddSingleton(sp => new WorkerMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddHostedService<WorkerService>();
        return services;
    }
}

/// <summary>What the worker's own host adds to <c>AddShortcutPipelineWorker</c>: telemetry, health endpoints and model preloading.</summary>
public static class WorkerHostServiceCollectionExtensions
{
    /// <summary>
    /// Adds telemetry as <see cref="ServiceNames.Worker"/> with the meter <see cref="WorkerMetrics.MeterName"/>
    /// (<see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/>), the health endpoints
    /// (<see cref="HealthServiceCollectionExtensions.AddShortcutPipelineHealth"/>) with the readiness checks "storage" (the
    /// checkpoints container, the work queue, the jobs table) and "models" (<see cref="ModelPreloader"/>, which also runs as a
    /// hosted service), and <see cref="ModelPreloadOptions"/> (validated at start against <see cref="WorkerOptions.LoadedModels"/>).
    /// </summary>
    public static IServiceCollection AddShortcutPipelineWorkerHost(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddShortcutPipelineTelemetry(configuration, ServiceNames.Worker, WorkerMetrics.MeterName);
        services.AddShortcutPipelineHealth(configuration, storage => storage.WorkQueue, storage => storage.JobsTable);
        services.AddOptions<ModelPreloadOptions>().Bind(configuration.GetSection(WorkerOptions.SectionName))
            .Validate<IOptions<WorkerOptions>>((preload, worker) => { preload.Validate(worker.Value.LoadedModels); return true; })
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<ModelPreloadOptions>>().Value);
        services.TryAddSingleton<ModelPreloader>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelPreloader>());
        services.AddSingleton<IReadinessCheck>(sp => sp.GetRequiredService<ModelPreloader>());
        return services;
    }
}

/// <summary>
/// The worker's tuning (configuration section <see cref="SectionName"/>, e.g. the environment variable
/// <c>ShortcutPipeline__Worker__MaxRowsPerPass=64</c>; durations as <c>hh:mm:ss</c>). Every setting has a
/// default that works; a deployment only has to set the storage settings of <c>SettingNames</c>.
/// </summary>
public sealed class WorkerOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ShortcutPipeline:Worker";

    /// <summary>
    /// The row limit: the most images in one forward pass (default 64). Rows of any step budget share a pass; a row
    /// with guidance (cfgScale other than 1) costs the network a second, unconditional row.
    /// </summary>
    public int MaxRowsPerPass { get; set; } = 64;

    /// <summary>
    /// How the passes are filled (default <see cref="SchedulingPolicy.Continuous"/>: per forward pass, across step
    /// budgets). <see cref="SchedulingPolicy.BudgetBatches"/> is the earlier budget-keyed batching, for comparisons.
    /// </summary>
    public SchedulingPolicy Scheduling { get; set; } = SchedulingPolicy.Continuous;

    /// <summary>
    /// The most rows started and not finished (default 0: twice <see cref="MaxRowsPerPass"/>). Above the row limit
    /// there is room for rows of higher priority or earlier deadline to start at once while started rows of lower
    /// priority sit a pass out.
    /// </summary>
    public int MaxResidentRows { get; set; }

    /// <summary>
    /// How many images of received work items may wait to start (default 0: <see cref="MaxRowsPerPass"/>). The worker
    /// receives while fewer wait; the messages it holds are invisible to other workers.
    /// </summary>
    public int MaxPendingImages { get; set; }

    /// <summary>
    /// How many finished rows may wait for the storing stage (default 0: twice <see cref="MaxRowsPerPass"/>); the
    /// sampler waits while the queue is full, so memory stays flat when storage is slow.
    /// </summary>
    public int StoringQueueImages { get; set; }

    /// <summary>
    /// <see cref="SchedulingPolicy.BudgetBatches"/> only: how long a received work item may wait for its budget's batch
    /// to fill before the batch runs anyway (default 2 s).
    /// </summary>
    public TimeSpan MaxBatchWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many receive calls the worker makes at once when it has room for more work items than one call returns (32;
    /// default 4).
    /// </summary>
    public int ReceiveConcurrency { get; set; } = 4;

    /// <summary>How long a received message stays invisible; renewed every half of it while the worker holds it (default 60 s).</summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Deliveries after which a failing message goes to the poison queue and its job fails (default 5).</summary>
    public int MaxDequeueCount { get; set; } = 5;

    /// <summary>How long a failed message waits before it is retried, times its dequeue count (default 2 s).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The longest wait before asking an empty queue again, that of an idle worker (default 1 s). A worker with rows in
    /// flight, or that just received work items, asks again after <see cref="BusyPollInterval"/>; each empty answer after
    /// that doubles the wait up to this one.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How soon a worker with rows in flight, or that just received work items, asks an empty queue again (default
    /// 100 ms; at most <see cref="PollInterval"/>): a job that arrives while others are drawn, or right after, joins the
    /// next forward passes instead of waiting out an idle worker's poll.
    /// </summary>
    public TimeSpan BusyPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How often the worker re-reads the jobs it holds work of, to notice cancellations (default 1 s).</summary>
    public TimeSpan CancellationPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the work queue's length is read for the queue-depth metric (default 10 s).</summary>
    public TimeSpan QueueDepthPollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>cpu, cuda, cuda:N, or auto (default: CUDA when available).</summary>
    public string Device { get; set; } = "auto";

    /// <summary>
    /// How many threads libtorch's CPU kernels use in the worker's process (default 0: libtorch's own choice, one per
    /// core). On a CPU worker the storing stage (PNG encoding, storage calls) needs CPU beside the sampler; a count below
    /// the cores leaves it some, so that it does not stall the sampler's kernels. A GPU worker needs no setting.
    /// </summary>
    public int SamplerThreads { get; set; }

    /// <summary>
    /// Sample with bfloat16 weights (true) or float32 ones (false); default (null): the device decides, see
    /// <c>SamplingPrecision.Choose</c> (bfloat16 on compute capability 8.0 and above, float16 on 7.x, else float32).
    /// </summary>
    public bool? BFloat16 { get; set; }

    /// <summary>Where downloaded checkpoints are kept (default: shortcut-models under the temp folder).</summary>
    public string ModelCacheDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "shortcut-models");

    /// <summary>How many model versions stay loaded at once (default 2); the least recently used one is unloaded.</summary>
    public int LoadedModels { get; set; } = 2;

    /// <summary>The VAE decoder weights (diffusers safetensors) for latent-space models; not needed for pixel models.</summary>
    public string? VaePath { get; set; }

    /// <summary>How many images the storing stage encodes, writes and records at once (default 16).</summary>
    public int UploadConcurrency { get; set; } = 16;

    /// <summary>
    /// How long the host waits on SIGTERM for the rows in flight to finish and be stored (default 120 s). Give the
    /// container at least this much grace period (Container Apps: terminationGracePeriodSeconds).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary><see cref="BusyPollInterval"/>, at most <see cref="PollInterval"/>.</summary>
    public TimeSpan EffectiveBusyPollInterval => BusyPollInterval < PollInterval ? BusyPollInterval : PollInterval;

    /// <summary><see cref="MaxResidentRows"/>, or its default.</summary>
    public int EffectiveMaxResidentRows => MaxResidentRows > 0 ? MaxResidentRows : 2 * MaxRowsPerPass;

    /// <summary><see cref="MaxPendingImages"/>, or its default.</summary>
    public int EffectiveMaxPendingImages => MaxPendingImages > 0 ? MaxPendingImages : MaxRowsPerPass;

    /// <summary><see cref="StoringQueueImages"/>, or its default.</summary>
    public int EffectiveStoringQueueImages => StoringQueueImages > 0 ? StoringQueueImages : 2 * MaxRowsPerPass;

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

        if (MaxRowsPerPass < 1 || LoadedModels < 1 || UploadConcurrency < 1 || ReceiveConcurrency < 1)
        {
            throw new InvalidOperationException(
                $"{SectionName}: {nameof(MaxRowsPerPass)}, {nameof(LoadedModels)}, {nameof(UploadConcurrency)} and {nameof(ReceiveConcurrency)} must be at least 1.");
        }

        if (MaxResidentRows < 0 || MaxPendingImages < 0 || StoringQueueImages < 0 || SamplerThreads < 0)
        {
            throw new InvalidOperationException(
                $"{SectionName}: {nameof(MaxResidentRows)}, {nameof(MaxPendingImages)}, {nameof(StoringQueueImages)} and {nameof(SamplerThreads)} cannot be negative (0: the default).");
        }

        if (MaxResidentRows > 0 && MaxResidentRows < MaxRowsPerPass)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxResidentRows)} must be at least {nameof(MaxRowsPerPass)} ({MaxRowsPerPass}).");
        }

        if (!Enum.IsDefined(Scheduling))
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(Scheduling)} must be {string.Join(" or ", Enum.GetNames<SchedulingPolicy>())}.");
        }

        if (MaxBatchWait < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(MaxBatchWait)} cannot be negative.");
        }

        Positive(PollInterval, nameof(PollInterval));
        Positive(BusyPollInterval, nameof(BusyPollInterval));
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
