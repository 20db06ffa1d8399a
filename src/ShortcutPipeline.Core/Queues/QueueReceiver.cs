using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

// Receiving from a queue with retries and a poison queue: the receiver, its options and the poison envelope. The lease of
// one received message is QueueMessageLease.cs.

namespace ShortcutPipeline.Core.Queues;

/// <summary>
/// Receives messages of one queue as <see cref="QueueMessageLease"/>s and gives up the ones that keep
/// failing: the receive, renew, retry and poison mechanics that the worker's loop over the work queue and
/// the local run's intake loop over the jobs queue share. A message received more than
/// <see cref="QueueReceiverOptions.MaxDequeueCount"/> times is poisoned before the caller sees it; a message
/// whose processing failed (<see cref="FailAsync"/>) is retried after a delay, or poisoned on its last allowed delivery.
/// </summary>
public sealed class QueueReceiver
{
    /// <summary>The most messages one receive call returns (the service's limit).</summary>
    public const int MaxMessagesPerReceive = 32;

    private readonly QueueClient queue;
    private readonly QueueClient poisonQueue;
    private readonly Func<QueueMessageLease, string, CancellationToken, Task>? onPoisoned;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    /// <summary>
    /// A receiver of <paramref name="queue"/> that moves given-up messages to <paramref name="poisonQueue"/>
    /// and then calls <paramref name="onPoisoned"/> with the lease and the reason (the worker fails the job there).
    /// </summary>
    public QueueReceiver(
        QueueClient queue, QueueClient poisonQueue, QueueReceiverOptions options,
        Func<QueueMessageLease, string, CancellationToken, Task>? onPoisoned = null, TimeProvider? time = null, ILogger? logger = null)
    {
        this.queue = queue ?? throw new ArgumentNullException(nameof(queue));
        this.poisonQueue = poisonQueue ?? throw new ArgumentNullException(nameof(poisonQueue));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        this.onPoisoned = onPoisoned;
        this.time = time ?? TimeProvider.System;
        this.logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The options in use.</summary>
    public QueueReceiverOptions Options { get; }

    /// <summary>The queue's name.</summary>
    public string QueueName => queue.Name;

    /// <summary>
    /// Receives up to <paramref name="maxMessages"/> (at most <see cref="MaxMessagesPerReceive"/>) messages and
    /// leases them; those received too often go to the poison queue instead. Empty when the queue is.
    /// </summary>
    public async Task<IReadOnlyList<QueueMessageLease>> ReceiveAsync(int maxMessages, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        QueueMessage[] messages = (await queue.ReceiveMessagesAsync(
                Math.Min(maxMessages, MaxMessagesPerReceive), Options.VisibilityTimeout, cancellationToken).ConfigureAwait(false)).Value;
        var leases = new List<QueueMessageLease>(messages.Length);
        foreach (QueueMessage message in messages)
        {
            var lease = QueueMessageLease.Hold(queue, message, Options.VisibilityTimeout, time: time, logger: logger);
            if (message.DequeueCount > Options.MaxDequeueCount)
            {
                await PoisonAsync(lease, string.Create(CultureInfo.InvariantCulture,
                    $"Received {message.DequeueCount} times, more than the {Options.MaxDequeueCount} allowed, without being finished (did its receivers crash or time out?)."),
                    cancellationToken).ConfigureAwait(false);
                continue;
            }

            leases.Add(lease);
        }

        return leases;
    }

    /// <summary>
    /// Moves the message to the poison queue (an envelope with <paramref name="reason"/>, see <see cref="PoisonMessage"/>),
    /// deletes it from its queue, and calls the poison callback. For messages that can never succeed
    /// (unreadable ones), and for those that failed too often.
    /// </summary>
    public async Task PoisonAsync(QueueMessageLease lease, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var envelope = new PoisonMessage
        {
            Reason = reason,
            Queue = lease.QueueName,
            MessageId = lease.MessageId,
            DequeueCount = lease.DequeueCount,
            InsertedOn = lease.Message.InsertedOn,
            PoisonedAt = time.GetUtcNow(),
            Message = lease.Text,
        };
        try
        {
            await poisonQueue.SendMessageAsync(envelope.ToQueueText(), cancellationToken).ConfigureAwait(false);
            await lease.DeleteAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Should either call fail, the message comes back when its visibility lapses.
            await lease.DisposeAsync().ConfigureAwait(false);
        }

        logger.LogError("Message {MessageId} of {Queue} moved to {PoisonQueue}: {Reason}", lease.MessageId, lease.QueueName, poisonQueue.Name, reason);
        if (onPoisoned is not null)
        {
            await onPoisoned(lease, reason, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Handles a failed attempt at a message: on its last allowed delivery it is poisoned with the error as
    /// the reason; otherwise it is released to be received again after <see cref="QueueReceiverOptions.RetryDelay"/>
    /// times its dequeue count. Returns true when it was poisoned. A failure that is a storage outage
    /// (<see cref="StorageFailures.MayPass"/>) is not the message's: it is neither poisoned nor released (that would fail
    /// too) but left to show again when its visibility timeout lapses, logged at debug level only (the receive loop's
    /// backoff reports the outage once).
    /// </summary>
    public async Task<bool> FailAsync(QueueMessageLease lease, Exception error, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lease);
        ArgumentNullException.ThrowIfNull(error);
        if (StorageFailures.MayPass(error))
        {
            logger.LogDebug("Message {MessageId} of {Queue} was interrupted by a storage outage ({Error}); it shows again after its visibility timeout.",
                lease.MessageId, lease.QueueName, StorageFailures.Describe(error));
            await lease.DisposeAsync().ConfigureAwait(false);
            return false;
        }

        if (lease.DequeueCount >= Options.MaxDequeueCount)
        {
            await PoisonAsync(lease, string.Create(CultureInfo.InvariantCulture,
                $"Failed on each of {lease.DequeueCount} deliveries; the last error: {error.GetType().Name}: {error.Message}"),
                cancellationToken).ConfigureAwait(false);
            return true;
        }

        TimeSpan delay = Options.RetryDelay * lease.DequeueCount;
        logger.LogWarning(error, "Message {MessageId} of {Queue} failed on delivery {DequeueCount}; retrying in {Delay}.",
            lease.MessageId, lease.QueueName, lease.DequeueCount, delay);
        try
        {
            await lease.ReleaseAsync(delay, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await lease.DisposeAsync().ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>The queue's approximate length (visible and invisible messages), for metrics and scaling.</summary>
    public async Task<int> GetApproximateLengthAsync(CancellationToken cancellationToken = default) =>
        (await queue.GetPropertiesAsync(cancellationToken).ConfigureAwait(false)).Value.ApproximateMessagesCount;
}

/// <summary>How a <see cref="QueueReceiver"/> holds, retries and gives up messages.</summary>
public sealed record QueueReceiverOptions
{
    /// <summary>How long a received message stays invisible; leases renew it every half of this (default 60 s).</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// After this many failed deliveries a message goes to the poison queue (default 5, as the Functions host's
    /// maxDequeueCount): a failure on the last allowed delivery poisons it, and so does receiving it once more
    /// (a receiver that died while holding it).
    /// </summary>
    public int MaxDequeueCount { get; init; } = 5;

    /// <summary>How long a failed message waits before it is visible again, times its dequeue count (default 2 s).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (VisibilityTimeout < TimeSpan.FromSeconds(2) || VisibilityTimeout > TimeSpan.FromDays(7))
        {
            throw new ArgumentOutOfRangeException(nameof(VisibilityTimeout), VisibilityTimeout, "The visibility timeout must be 2 s to 7 days.");
        }

        if (MaxDequeueCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDequeueCount), MaxDequeueCount, "MaxDequeueCount must be at least 1.");
        }

        if (RetryDelay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, "RetryDelay cannot be negative.");
        }
    }
}

/// <summary>
/// What <see cref="QueueReceiver"/> puts on a poison queue (<see cref="StorageNames.PoisonQueueOf"/>): the
/// original message text with why it was given up and where it came from, as JSON (<see cref="PipelineJson.Options"/>).
/// When that envelope would not fit in a queue message, the original text goes to the poison queue as it
/// is (the reason is then only in the log and, for work items, in the job's status).
/// </summary>
public sealed record PoisonMessage
{
    /// <summary>The largest queue message, in bytes of text.</summary>
    public const int MaxQueueMessageBytes = 64 * 1024;

    /// <summary>Why the message was given up.</summary>
    public required string Reason { get; init; }

    /// <summary>The queue it came from.</summary>
    public required string Queue { get; init; }

    /// <summary>Its id there.</summary>
    public required string MessageId { get; init; }

    /// <summary>How many times it was received.</summary>
    public required long DequeueCount { get; init; }

    /// <summary>When it was first enqueued.</summary>
    public DateTimeOffset? InsertedOn { get; init; }

    /// <summary>When it was moved to the poison queue.</summary>
    public required DateTimeOffset PoisonedAt { get; init; }

    /// <summary>The original message text, unchanged.</summary>
    public required string Message { get; init; }

    /// <summary>The envelope's JSON, or the original text alone when the envelope is too big for a queue message.</summary>
    public string ToQueueText()
    {
        string json = JsonSerializer.Serialize(this, PipelineJson.Options);
        return Encoding.UTF8.GetByteCount(json) <= MaxQueueMessageBytes ? json : Message;
    }

    /// <summary>
    /// Reads a poison-queue message: the envelope, or null when the text is not one (an original message
    /// that was too big to wrap, or one the Functions host moved there).
    /// </summary>
    public static PoisonMessage? TryParse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            PoisonMessage? message = JsonSerializer.Deserialize<PoisonMessage>(text, PipelineJson.Options);
            return message is { Reason: not null, Message: not null, Queue: not null } ? message : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
