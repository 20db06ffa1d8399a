using Azure.Storage.Queues.Models;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Functions;

/// <summary>
/// Takes jobs users put on the jobs queue. An invalid job is recorded as rejected and the function returns
/// normally, so the message is never retried; a storage failure throws, so the host retries the message and,
/// after host.json's maxDequeueCount, moves it to the poison queue.
/// </summary>
public sealed class JobQueueFunction(JobIntake intake, ILogger<JobQueueFunction> logger)
{
    /// <summary>The function name.</summary>
    public const string Name = "IntakeQueuedJob";

    /// <summary>Runs the intake on one queue message (its id names jobs that carry none).</summary>
    [Function(Name)]
    public async Task RunAsync(
        [QueueTrigger(StorageNames.JobsQueue, Connection = StorageNames.ConnectionName)] QueueMessage message,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        IntakeResult result = await intake.SubmitAsync(message.Body?.ToString(), message.MessageId, cancellationToken);
        logger.LogInformation(
            "Queue message {MessageId} (delivery {DequeueCount}): job {JobId} {Outcome}.",
            message.MessageId, message.DequeueCount, result.JobId, result.Outcome);
    }
}
