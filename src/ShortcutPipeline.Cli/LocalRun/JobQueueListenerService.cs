using Microsoft.Extensions.Hosting;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Cli.LocalRun;

/// <summary>Hosts the <see cref="JobQueueListener"/> (what the Functions app's queue trigger is in Azure) in the local run.</summary>
public sealed class JobQueueListenerService(JobQueueListener listener) : BackgroundService
{
    /// <inheritdoc/>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => listener.RunAsync(stoppingToken);
}
