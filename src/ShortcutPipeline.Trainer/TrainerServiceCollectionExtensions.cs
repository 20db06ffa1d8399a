using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ShortcutPipeline.Core;

namespace ShortcutPipeline.Trainer;

/// <summary>Registers the trainer host's services.</summary>
public static class TrainerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Core services (<see cref="PipelineServiceCollectionExtensions.AddShortcutPipelineCore"/>), the options
    /// <see cref="TrainerHostOptions"/> (section <see cref="TrainerHostOptions.SectionName"/>, validated), and the singletons
    /// <see cref="TrainerMetrics"/>, <see cref="TrainingRunner"/> and <see cref="TrainingQueueConsumer"/>.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineTrainer(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddShortcutPipelineCore(configuration);
        services.AddOptions<TrainerHostOptions>().Bind(configuration.GetSection(TrainerHostOptions.SectionName))
            .Validate(options => { options.Validate(); return true; });
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<TrainerHostOptions>>().Value);
        services.AddMetrics();
        services.TryAddSingleton(sp => new TrainerMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<TrainingRunner>();
        services.TryAddSingleton<TrainingQueueConsumer>();
        return services;
    }
}
