using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ShortcutPipeline.Core.Health;

/// <summary>Registers the health endpoints (the worker and trainer hosts call this, and register their <see cref="IReadinessCheck"/>s).</summary>
public static class HealthServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="HealthOptions"/> (bound from <see cref="HealthOptions.SectionName"/>, validated at start), the singleton
    /// <see cref="HealthServer"/> and it as a hosted service, serving every registered <see cref="IReadinessCheck"/>.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineHealth(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<HealthOptions>().Bind(configuration.GetSection(HealthOptions.SectionName))
            .Validate(options => { options.Validate(); return true; })
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<HealthOptions>>().Value);
        services.TryAddSingleton<HealthServer>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthServer>());
        return services;
    }
}
