using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Worker;

/// <summary>What the worker's own host adds to <c>AddShortcutPipelineWorker</c>: telemetry, health endpoints and model preloading.</summary>
public static class WorkerHostServiceCollectionExtensions
{
    /// <summary>
    /// Adds telemetry as <see cref="PipelineTelemetry.WorkerService"/> with the meter <see cref="WorkerMetrics.MeterName"/>
    /// (<see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/>), the health endpoints
    /// (<see cref="HealthServiceCollectionExtensions.AddShortcutPipelineHealth"/>) with the readiness checks "storage" (the
    /// checkpoints container, the work queue, the jobs table) and "models" (<see cref="ModelPreloader"/>, which also runs as a
    /// hosted service), and <see cref="ModelPreloadOptions"/> (validated at start against <see cref="WorkerOptions.LoadedModels"/>).
    /// </summary>
    public static IServiceCollection AddShortcutPipelineWorkerHost(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddShortcutPipelineTelemetry(configuration, PipelineTelemetry.WorkerService, WorkerMetrics.MeterName);
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
