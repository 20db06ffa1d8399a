using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Trainer;

// The trainer. --once (the default, what the Container Apps Job runs): take one training request from the training
// queue, train it, exit. --loop: take requests until stopped (Ctrl+C), for local use. Settings come from the
// environment (ShortcutStorage or the identity-based ShortcutStorage__* settings, ShortcutPipeline__Trainer__*,
// ShortcutPipeline__Storage__*, the health port ShortcutPipeline__Health__Port, APPLICATIONINSIGHTS_CONNECTION_STRING for
// telemetry, without which it goes to the console) and from --Name=value arguments. The health endpoints and telemetry run
// while the host is started, around the training.
const string Usage = """
    ShortcutPipeline.Trainer [--once | --loop] [--ShortcutPipeline:Trainer:Device=cuda ...]
      --once   take one training request from the queue, train it, exit (default)
      --loop   take training requests until stopped (Ctrl+C)
    """;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Usage);
    return 0;
}

bool loop = args.Contains("--loop");
if (loop && args.Contains("--once"))
{
    Console.Error.WriteLine("Give --once or --loop, not both.");
    Console.Error.WriteLine(Usage);
    return 2;
}

HostApplicationBuilder builder = Host.CreateApplicationBuilder(args.Where(arg => arg is not ("--once" or "--loop")).ToArray());
builder.Services.AddShortcutPipelineTrainer(builder.Configuration);
builder.Services.AddShortcutPipelineTelemetry(builder.Configuration, PipelineTelemetry.TrainerService, TrainerMetrics.MeterName);
builder.Services.AddShortcutPipelineHealth(builder.Configuration, storage => storage.TrainingQueue, storage => storage.RunsTable);
using IHost host = builder.Build();
ILogger logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ShortcutPipeline.Trainer");

using var stopping = new CancellationTokenSource();
using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

try
{
    await host.StartAsync(stopping.Token);
    TrainingQueueConsumer consumer = host.Services.GetRequiredService<TrainingQueueConsumer>();
    if (loop)
    {
        logger.LogInformation("Taking training requests until stopped.");
        await consumer.RunLoopAsync(stopping.Token);
        return 0;
    }

    TrainingMessageOutcome? outcome = await consumer.RunOnceAsync(stopping.Token);
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
    // Stops the health endpoints; the telemetry is flushed as the host is disposed. The console logger writes on a background
    // thread: let it finish before the process ends.
    await host.StopAsync(CancellationToken.None);
    host.Services.GetRequiredService<ILoggerFactory>().Dispose();
}

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stopping.Cancel();
}
