using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Queues;

namespace ShortcutPipeline.Worker;

/// <summary>
/// Gives up the messages of work items the worker cannot finish, for the receive loop and the batches alike.
/// Storage may fail while giving a message up too; then the failure is logged and the message reappears when
/// its visibility timeout lapses.
/// </summary>
internal sealed class MessageGiveUp(QueueReceiver receiver, WorkerMetrics metrics, ILogger logger)
{
    /// <summary>
    /// Releases the message of a failed attempt for a retry (counted as a failed attempt), or poisons it on its
    /// last delivery. <paramref name="jobId"/> is null when the message could not be read.
    /// </summary>
    public Task FailAsync(QueueMessageLease lease, string? jobId, Exception error) => CatchAsync(lease, jobId, async () =>
    {
        if (!await receiver.FailAsync(lease, error, CancellationToken.None).ConfigureAwait(false))
        {
            metrics.RecordFailedAttempt();
        }
    });

    /// <summary>Poisons the message of a work item that can never succeed.</summary>
    public Task PoisonAsync(QueueMessageLease lease, string jobId, string reason) =>
        CatchAsync(lease, jobId, () => receiver.PoisonAsync(lease, reason, CancellationToken.None));

    private async Task CatchAsync(QueueMessageLease lease, string? jobId, Func<Task> giveUp)
    {
        try
        {
            await giveUp().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            if (jobId is null)
            {
                logger.LogError(exception, "Could not give up message {MessageId}; it returns after its visibility timeout.", lease.MessageId);
            }
            else
            {
                logger.LogError(exception, "Could not give up message {MessageId} of job {JobId}; it returns after its visibility timeout.",
                    lease.MessageId, jobId);
            }
        }
    }
}
