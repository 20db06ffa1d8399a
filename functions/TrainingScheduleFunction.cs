using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Training;

namespace ShortcutPipeline.Functions;

/// <summary>
/// The training timer: on the schedule in the app setting Training__Schedule, asks <see cref="TrainingScheduler"/>
/// whether the configured request (Training__Request) is due and launches it if so.
/// </summary>
public sealed class TrainingScheduleFunction(TrainingScheduler scheduler, ILogger<TrainingScheduleFunction> logger)
{
    /// <summary>The function name.</summary>
    public const string Name = "ScheduleTraining";

    /// <summary>Runs the scheduler once.</summary>
    [Function(Name)]
    public async Task RunAsync([TimerTrigger("%Training:Schedule%")] TimerInfo timer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(timer);
        ScheduleDecision decision = await scheduler.RunAsync(cancellationToken);
        logger.LogInformation(
            "Training timer (past due: {PastDue}): {Decision} {Reason}",
            timer.IsPastDue, decision.Launched is { } launched ? $"launched {launched.RunId} ({launched.Outcome})." : "no launch.", decision.Reason);
    }
}
