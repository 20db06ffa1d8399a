using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

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
