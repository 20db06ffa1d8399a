using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace ShortcutPipeline.Core.Queues;

/// <summary>
/// A received queue message that this process holds: it keeps the message invisible by renewing its
/// visibility timeout in the background (every half timeout unless <see cref="Hold"/> says otherwise) until it is
/// deleted, released or poisoned, and tracks the pop receipt each renewal returns. A renewal that fails (storage busy or
/// unreachable for longer than the client's own retries) is tried again sooner, until one succeeds: every quarter of what
/// the renewal interval leaves of the timeout (an eighth of the timeout at the default interval), so that three more tries
/// come before the message lapses. Renewals, deletion and release never overlap, and a renewal in flight is never
/// cancelled (the receipt it returns is the only one that works afterwards).
/// When a renewal, deletion or release finds the message gone (its visibility lapsed and another receiver took it) or its
/// pop receipt stale, the lease is <see cref="IsLost"/> and a later delete or release is a no-op. Disposed without
/// being deleted or released (a crash), the message shows again once its visibility lapses. The worker's and the intake
/// loop's leases come from <see cref="QueueReceiver"/>; the trainer holds the one training request it receives.
/// </summary>
public sealed class QueueMessageLease : IAsyncDisposable
{
    private readonly QueueClient queue;
    private readonly TimeSpan visibilityTimeout;
    private readonly TimeSpan renewEvery;
    private readonly TimeSpan retryEvery;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly CancellationTokenSource renewing = new();
    private readonly Task renewal;
    private string popReceipt;
    private bool finished;

    private QueueMessageLease(QueueClient queue, QueueMessage message, TimeSpan visibilityTimeout, TimeSpan renewEvery, TimeProvider time, ILogger logger)
    {
        this.queue = queue;
        Message = message;
        popReceipt = message.PopReceipt;
        this.visibilityTimeout = visibilityTimeout;
        this.renewEvery = renewEvery;
        retryEvery = (visibilityTimeout - renewEvery) / 4;
        this.time = time;
        this.logger = logger;
        renewal = RenewUntilFinishedAsync(renewing.Token);
    }

    /// <summary>
    /// Holds <paramref name="message"/>, received from <paramref name="queue"/> with <paramref name="visibilityTimeout"/>:
    /// renews that timeout every <paramref name="renewEvery"/> (default: half of it; it must be shorter than the timeout).
    /// </summary>
    public static QueueMessageLease Hold(
        QueueClient queue, QueueMessage message, TimeSpan visibilityTimeout, TimeSpan? renewEvery = null, TimeProvider? time = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(visibilityTimeout, TimeSpan.Zero);
        TimeSpan interval = renewEvery ?? visibilityTimeout / 2;
        if (interval <= TimeSpan.Zero || interval >= visibilityTimeout)
        {
            throw new ArgumentOutOfRangeException(
                nameof(renewEvery), interval, $"Renewals must come more often than the visibility timeout of {visibilityTimeout}.");
        }

        return new QueueMessageLease(queue, message, visibilityTimeout, interval, time ?? TimeProvider.System, logger ?? NullLogger.Instance);
    }

    /// <summary>The message as received.</summary>
    public QueueMessage Message { get; }

    /// <summary>The message id.</summary>
    public string MessageId => Message.MessageId;

    /// <summary>The message text.</summary>
    public string Text => Message.Body?.ToString() ?? "";

    /// <summary>How many times the message has been received, this time included.</summary>
    public long DequeueCount => Message.DequeueCount;

    /// <summary>The queue the message is on.</summary>
    public string QueueName => queue.Name;

    /// <summary>True when a renewal found that the message is no longer ours.</summary>
    public bool IsLost { get; private set; }

    /// <summary>How many times the visibility was renewed.</summary>
    public int Renewals { get; private set; }

    /// <summary>Deletes the message: its work is done. A lost or already finished lease does nothing.</summary>
    public Task DeleteAsync(CancellationToken cancellationToken = default) =>
        FinishAsync(receipt => queue.DeleteMessageAsync(MessageId, receipt, cancellationToken), cancellationToken);

    /// <summary>
    /// Gives the message back: it becomes visible to every receiver after <paramref name="visibleAfter"/>
    /// (zero: at once). Its dequeue count stays as it is.
    /// </summary>
    public Task ReleaseAsync(TimeSpan visibleAfter, CancellationToken cancellationToken = default) =>
        FinishAsync(receipt => queue.UpdateMessageAsync(MessageId, receipt, visibilityTimeout: visibleAfter, cancellationToken: cancellationToken),
            cancellationToken);

    /// <summary>
    /// Stops renewing (a message neither deleted nor released becomes visible when its current timeout lapses).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        StopRenewing();
        await renewal.ConfigureAwait(false);
    }

    private void StopRenewing()
    {
        lock (renewing)
        {
            if (!renewing.IsCancellationRequested)
            {
                renewing.Cancel();
            }
        }
    }

    private async Task FinishAsync(Func<string, Task> operation, CancellationToken cancellationToken)
    {
        StopRenewing();
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (finished || IsLost)
            {
                return;
            }

            await operation(popReceipt).ConfigureAwait(false);
            finished = true;
        }
        catch (RequestFailedException exception) when (IsNoLongerOurs(exception))
        {
            // Deleted already, or another receiver holds it now (the pop receipt no longer matches).
            IsLost = true;
            logger.LogInformation("Message {MessageId} on {Queue} was no longer ours when we finished it (it lapsed and comes back).", MessageId, queue.Name);
        }
        finally
        {
            gate.Release();
        }
    }

    // Gone (deleted, or its visibility lapsed and it was received again), or our pop receipt is stale: a request of ours
    // was applied but its answer lost (a connection reset), so only the receipt we never saw would work now.
    private static bool IsNoLongerOurs(RequestFailedException exception) =>
        exception.Status == (int)HttpStatusCode.NotFound
        || (exception.Status == (int)HttpStatusCode.BadRequest && exception.ErrorCode == QueueErrorCode.PopReceiptMismatch.ToString());

    private async Task RenewUntilFinishedAsync(CancellationToken cancellationToken)
    {
        try
        {
            TimeSpan wait = renewEvery;
            while (true)
            {
                await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (finished || IsLost)
                    {
                        return;
                    }

                    // Not cancellable once sent: the pop receipt it returns is the only one that works afterwards.
                    Response<UpdateReceipt> receipt = await queue
                        .UpdateMessageAsync(MessageId, popReceipt, visibilityTimeout: visibilityTimeout, cancellationToken: CancellationToken.None)
                        .ConfigureAwait(false);
                    popReceipt = receipt.Value.PopReceipt;
                    Renewals++;
                    wait = renewEvery;
                }
                catch (RequestFailedException exception) when (IsNoLongerOurs(exception))
                {
                    IsLost = true;
                    logger.LogInformation(
                        "Message {MessageId} on {Queue} could not be renewed: it lapsed, and another receiver may hold it now.", MessageId, queue.Name);
                    return;
                }
                catch (Exception exception) when (Storage.StorageFailures.MayPass(exception))
                {
                    // Storage busy, or unreachable for a while (the loops log an outage once): the next round, soon, tries again.
                    wait = retryEvery;
                    logger.LogDebug(exception, "Renewing message {MessageId} on {Queue} failed; trying again.", MessageId, queue.Name);
                }
                catch (RequestFailedException exception)
                {
                    wait = retryEvery;
                    logger.LogWarning(exception, "Renewing message {MessageId} on {Queue} failed; trying again.", MessageId, queue.Name);
                }
                finally
                {
                    gate.Release();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Finished or disposed.
        }
    }
}
