using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Worker;

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
