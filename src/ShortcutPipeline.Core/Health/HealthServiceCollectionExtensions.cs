using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Core.Health;

/// <summary>Registers the health endpoints (the worker and trainer hosts call this; they may register more <see cref="IReadinessCheck"/>s).</summary>
public static class HealthServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="HealthOptions"/> (bound from <see cref="HealthOptions.SectionName"/>, validated at start), the singleton
    /// <see cref="HealthServer"/> and it as a hosted service, serving every registered <see cref="IReadinessCheck"/>, and the
    /// check "storage" (<see cref="StorageReadinessCheck"/>) of the app's <paramref name="queue"/> and <paramref name="table"/>.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineHealth(
        this IServiceCollection services, IConfiguration configuration, Func<PipelineStorage, QueueClient> queue, Func<PipelineStorage, TableClient> table)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(table);
        services.AddOptions<HealthOptions>().Bind(configuration.GetSection(HealthOptions.SectionName))
            .Validate(options => { options.Validate(); return true; })
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<HealthOptions>>().Value);
        services.TryAddSingleton<HealthServer>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthServer>());
        services.AddSingleton<IReadinessCheck>(sp =>
        {
            PipelineStorage storage = sp.GetRequiredService<PipelineStorage>();
            return new StorageReadinessCheck(storage, queue(storage), table(storage));
        });
        return services;
    }
}
