using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Telemetry;

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

/// <summary>
/// The trainer's own process: <c>shortcut trainer</c>, the trainer job of the GPU image. Once (what the Container Apps
/// Job runs): take one training request from the training queue, train it, exit. In a loop: take requests until stopped
/// (Ctrl+C), for local use. Settings come from the environment (ShortcutStorage or the identity-based ShortcutStorage__*
/// settings, ShortcutPipeline__Trainer__*, ShortcutPipeline__Storage__*, the health port ShortcutPipeline__Health__Port,
/// APPLICATIONINSIGHTS_CONNECTION_STRING for telemetry, without which it goes to the console) and from --Name=value
/// arguments. The health endpoints and telemetry run while the host is started, around the training.
/// </summary>
public static class TrainerHost
{
    /// <summary>Trains one request (or, with <paramref name="loop"/>, every request until stopped); returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, bool loop)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddShortcutPipelineTrainer(builder.Configuration);
        builder.Services.AddShortcutPipelineTelemetry(builder.Configuration, ServiceNames.Trainer, TrainerMetrics.MeterName);
        builder.Services.AddShortcutPipelineHealth(builder.Configuration, storage => storage.TrainingQueue, storage => storage.RunsTable);
        using IHost host = builder.Build();
        ILogger logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ShortcutPipeline.Trainer");

        using var stopping = new CancellationTokenSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stopping.Cancel();
        }

        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        try
        {
            await host.StartAsync(stopping.Token).ConfigureAwait(false);
            TrainingQueueConsumer consumer = host.Services.GetRequiredService<TrainingQueueConsumer>();
            if (loop)
            {
                logger.LogInformation("Taking training requests until stopped.");
                await consumer.RunLoopAsync(stopping.Token).ConfigureAwait(false);
                return 0;
            }

            TrainingMessageOutcome? outcome = await consumer.RunOnceAsync(stopping.Token).ConfigureAwait(false);
            logger.LogInformation("Done: {Outcome}.", outcome?.ToString() ?? "no training request to take");
            return 0;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            logger.LogWarning("Stopped; an unfinished run resumes from its last checkpoint when its request is delivered again.");
            return 1;
        }
        catch (Exception exception)
        {
            logger.LogCritical(exception, "The trainer failed.");
            return 1;
        }
        finally
        {
            // Stops the health endpoints; the telemetry is flushed as the host is disposed. The console logger writes on a
            // background thread: let it finish before the process ends.
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            host.Services.GetRequiredService<ILoggerFactory>().Dispose();
        }
    }
}
