using Microsoft.Extensions.Hosting;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Trainer;

namespace ShortcutPipeline.Cli.LocalRun;

/// <summary>Hosts the <see cref="JobQueueListener"/> (what the Functions app's queue trigger is in Azure) in the local run.</summary>
public sealed class JobQueueListenerService(JobQueueListener listener) : BackgroundService
{
    /// <inheritdoc/>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => listener.RunAsync(stoppingToken);
}

/// <summary>Hosts the trainer's loop over the training queue (what the Container Apps Job is in Azure) in <c>shortcut serve --trainer</c>.</summary>
public sealed class TrainingLoopService(TrainingQueueConsumer consumer) : BackgroundService
{
    /// <inheritdoc/>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => consumer.RunLoopAsync(stoppingToken);
}
