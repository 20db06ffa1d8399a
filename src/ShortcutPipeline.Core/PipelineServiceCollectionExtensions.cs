using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Training;

namespace ShortcutPipeline.Core;

/// <summary>Registers the Core services (the Functions app, the worker and the trainer call this).</summary>
public static class PipelineServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="PipelineStorage"/> (from the storage settings of <see cref="SettingNames"/>, see
    /// <see cref="PipelineStorageClients.FromConfiguration"/>), the options <see cref="PipelineStorageOptions"/>,
    /// <see cref="GenerationJobLimits"/>, <see cref="JobStatusOptions"/> and <see cref="CallbackOptions"/> (bound from their sections), and the
    /// singletons <see cref="ModelRegistry"/>, <see cref="JobIntake"/>, <see cref="JobStatusService"/>,
    /// <see cref="JobProgress"/> and <see cref="JobCallbackClient"/>, and for training <see cref="TrainingScheduleOptions"/>
    /// (section "Training"), <see cref="TrainingRunStore"/>, <see cref="TrainingDatasets"/>, <see cref="TrainingLauncher"/> and
    /// <see cref="TrainingScheduler"/>. Storage settings are read when the
    /// storage is first resolved, so a missing setting fails then, with a message naming the settings.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineCore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<PipelineStorageOptions>().Bind(configuration.GetSection(PipelineStorageOptions.SectionName));
        services.AddOptions<GenerationJobLimits>().Bind(configuration.GetSection(GenerationJobLimits.SectionName))
            .Validate(limits => { limits.Validate(); return true; });
        services.AddOptions<JobStatusOptions>().Bind(configuration.GetSection(JobStatusOptions.SectionName));
        services.AddOptions<CallbackOptions>().Bind(configuration.GetSection(CallbackOptions.SectionName))
            .Validate(options => { options.Validate(); return true; });
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<PipelineStorageOptions>>().Value);
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<GenerationJobLimits>>().Value);
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<JobStatusOptions>>().Value);
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<CallbackOptions>>().Value);
        services.AddOptions<TrainingScheduleOptions>().Bind(configuration.GetSection(TrainingScheduleOptions.SectionName));
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<TrainingScheduleOptions>>().Value);

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(_ => PipelineStorageClients.FromConfiguration(configuration));
        services.TryAddSingleton<PipelineStorage>();
        services.TryAddSingleton<ModelRegistry>();
        services.TryAddSingleton<JobCallbackClient>();
        services.TryAddSingleton<JobStatusService>();
        services.TryAddSingleton<JobProgress>();
        services.TryAddSingleton<JobIntake>();
        services.TryAddSingleton<TrainingRunStore>();
        services.TryAddSingleton<TrainingDatasets>();
        services.TryAddSingleton<TrainingLauncher>();
        services.TryAddSingleton<TrainingScheduler>();
        return services;
    }
}
