using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Trainer;
using ShortcutPipeline.Worker;

namespace ShortcutPipeline.Cli.LocalRun;

/// <summary>
/// The pipeline in one process, over a storage account (Azurite): the jobs-queue intake (as the Functions app
/// would run it), the worker, and optionally the trainer's loop over the training queue, composed as their hosts
/// compose them (AddShortcutPipelineCore, AddShortcutPipelineWorker, AddShortcutPipelineTrainer). Used by
/// <c>shortcut local</c>, <c>shortcut serve</c>, <c>shortcut bench-pipeline</c> and <c>shortcut bench-serving</c>.
/// </summary>
public sealed class LocalPipeline : IAsyncDisposable
{
    private readonly IHost host;

    private LocalPipeline(IHost host) => this.host = host;

    /// <summary>The storage.</summary>
    public PipelineStorage Storage => host.Services.GetRequiredService<PipelineStorage>();

    /// <summary>The model registry.</summary>
    public ModelRegistry Registry => host.Services.GetRequiredService<ModelRegistry>();

    /// <summary>Job statuses.</summary>
    public JobStatusService Status => host.Services.GetRequiredService<JobStatusService>();

    /// <summary>The worker's metrics.</summary>
    public WorkerMetrics Metrics => host.Services.GetRequiredService<WorkerMetrics>();

    /// <summary>
    /// Creates the storage's queues, containers and tables and starts the intake and the worker on it (and the trainer's
    /// loop when <paramref name="configureTrainer"/> is given; it adjusts the trainer's options). <paramref name="configureWorker"/>
    /// adjusts the worker's options; logs below <paramref name="logLevel"/> are dropped. The intake asks an empty jobs queue
    /// again every <paramref name="intakePollInterval"/> (default 200 ms).
    /// </summary>
    public static async Task<LocalPipeline> StartAsync(
        string connectionString, PipelineStorageOptions names, Action<WorkerOptions> configureWorker, LogLevel logLevel,
        CancellationToken cancellationToken, Action<TrainerHostOptions>? configureTrainer = null, TimeSpan? intakePollInterval = null)
    {
        ArgumentNullException.ThrowIfNull(names);
        Dictionary<string, string?> settings = names.ToSettings(connectionString);
        // Local callbacks go to local receivers, over http.
        settings[$"{CallbackOptions.SectionName}:{nameof(CallbackOptions.AllowHttp)}"] = "true";
        settings[$"{CallbackOptions.SectionName}:{nameof(CallbackOptions.AllowLoopback)}"] = "true";
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddSimpleConsole(console => console.SingleLine = true).SetMinimumLevel(logLevel);
        builder.Services.AddShortcutPipelineCore(builder.Configuration);
        builder.Services.AddShortcutPipelineWorker(builder.Configuration);
        builder.Services.Configure(configureWorker);
        builder.Services.AddSingleton(sp => new JobQueueListener(
            sp.GetRequiredService<PipelineStorage>(), sp.GetRequiredService<JobIntake>(), pollInterval: intakePollInterval ?? TimeSpan.FromMilliseconds(200),
            logger: sp.GetRequiredService<ILogger<JobQueueListener>>()));
        builder.Services.AddHostedService<JobQueueListenerService>();
        if (configureTrainer is not null)
        {
            builder.Services.AddShortcutPipelineTrainer(builder.Configuration);
            builder.Services.Configure(configureTrainer);
            builder.Services.AddHostedService<TrainingLoopService>();
        }

        IHost host = builder.Build();
        try
        {
            await host.Services.GetRequiredService<PipelineStorage>().EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return new LocalPipeline(host);
    }

    /// <summary>Stops the intake and the worker (the worker finishes its batch in flight).</summary>
    public async ValueTask DisposeAsync()
    {
        await host.StopAsync().ConfigureAwait(false);
        host.Dispose();
    }
}
