namespace ShortcutPipeline.Core.Queues;

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
