using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Trainer;

/// <summary>What the trainer's own host adds to <see cref="TrainerServiceCollectionExtensions.AddShortcutPipelineTrainer"/>: telemetry and health endpoints.</summary>
public static class TrainerHostServiceCollectionExtensions
{
    /// <summary>
    /// Adds telemetry as <see cref="PipelineTelemetry.TrainerService"/> with the meter <see cref="TrainerMetrics.MeterName"/>
    /// (<see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/>) and the health endpoints
    /// (<see cref="HealthServiceCollectionExtensions.AddShortcutPipelineHealth"/>) with the readiness check "storage" (the
    /// checkpoints container, the training queue, the runs table). Both run while the host is started.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineTrainerHost(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddShortcutPipelineTelemetry(configuration, PipelineTelemetry.TrainerService, TrainerMetrics.MeterName);
        return services.AddShortcutPipelineHealth(configuration, storage => storage.TrainingQueue, storage => storage.RunsTable);
    }
}
