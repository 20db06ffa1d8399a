using System.Net;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// Keeps a received queue message invisible while its run trains, by renewing its visibility timeout every third of
/// it (each renewal gives a new pop receipt), and deletes it when the run is done. Stopping waits for a renewal in
/// flight, so deletion and release use the newest receipt. Disposed without deleting (a
/// crash), the message shows again once its visibility lapses and is delivered to the next trainer.
/// </summary>
internal sealed class QueueMessageHold : IAsyncDisposable
{
    private readonly QueueClient queue;
    private readonly string messageId;
    private readonly ILogger logger;
    private readonly PeriodicRenewal renewal;
    private volatile string popReceipt;
    private bool stopped;

    public QueueMessageHold(QueueClient queue, QueueMessage message, TimeSpan visibilityTimeout, ILogger logger)
    {
        this.queue = queue;
        messageId = message.MessageId;
        popReceipt = message.PopReceipt;
        this.logger = logger;
        renewal = new PeriodicRenewal(visibilityTimeout / 3, async _ =>
        {
            // Not cancellable once sent: the pop receipt it returns is the only one that works afterwards, so stopping
            // waits for a renewal in flight instead of cancelling it and deleting or releasing with a stale receipt.
            UpdateReceipt receipt = (await queue.UpdateMessageAsync(messageId, popReceipt, visibilityTimeout: visibilityTimeout,
                cancellationToken: CancellationToken.None).ConfigureAwait(false)).Value;
            popReceipt = receipt.PopReceipt;
        }, PeriodicRenewal.LogAndContinue(logger, $"renew the visibility of queue message {messageId}"));
    }

    /// <summary>Stops renewing and deletes the message (a message that is gone already is no error).</summary>
    public async Task DeleteAsync(CancellationToken cancellationToken)
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            await queue.DeleteMessageAsync(messageId, popReceipt, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.NotFound)
        {
            logger.LogWarning("Queue message {MessageId} was gone already when its run was done.", messageId);
        }
    }

    /// <summary>Stops renewing and lets the message show again after <paramref name="delay"/>.</summary>
    public async Task ReleaseAfterAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        await StopAsync().ConfigureAwait(false);
        await queue.UpdateMessageAsync(messageId, popReceipt, visibilityTimeout: delay, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task StopAsync()
    {
        if (!stopped)
        {
            stopped = true;
            await renewal.DisposeAsync().ConfigureAwait(false);
        }
    }
}
