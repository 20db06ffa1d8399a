using ShortcutPipeline.Core.Queues;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>
/// Takes jobs off the jobs queue in-process: what the Functions app's queue trigger does in Azure, for the
/// local run (and tests). Each message goes through <see cref="JobIntake.SubmitAsync(string?, string?, CancellationToken)"/> with its message id
/// and is deleted afterwards; a message whose intake throws (a storage failure) is retried, and poisoned
/// after <see cref="QueueReceiverOptions.MaxDequeueCount"/> deliveries, like the Functions host does.
/// <see cref="RunAsync"/> outlives storage outages of any length (<see cref="OutageBackoff"/>): it waits, logs the
/// outage once, and goes on when storage is back; a message whose intake the outage cut short is delivered again
/// once its visibility lapses (the intake is idempotent).
/// </summary>
public sealed class JobQueueListener
{
    private readonly JobIntake intake;
    private readonly QueueReceiver receiver;
    private readonly TimeSpan pollInterval;
    private readonly TimeSpan maxOutageDelay;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private int messagesTaken;

    /// <summary>
    /// A listener on <paramref name="storage"/>'s jobs queue (and its poison queue) that polls every <paramref name="pollInterval"/>
    /// (default 0.5 s) and, while storage is unreachable, tries again after waits from the poll interval doubling up to
    /// <paramref name="maxOutageDelay"/> (default <see cref="OutageBackoff.DefaultMaxDelay"/>).
    /// </summary>
    public JobQueueListener(
        PipelineStorage storage, JobIntake intake, QueueReceiverOptions? receiverOptions = null, TimeSpan? pollInterval = null,
        TimeProvider? time = null, ILogger<JobQueueListener>? logger = null, TimeSpan? maxOutageDelay = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.intake = intake ?? throw new ArgumentNullException(nameof(intake));
        this.time = time ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        this.pollInterval = pollInterval ?? TimeSpan.FromMilliseconds(500);
        this.maxOutageDelay = maxOutageDelay ?? OutageBackoff.DefaultMaxDelay;
        receiver = new QueueReceiver(
            storage.JobsQueue, storage.PoisonQueueOf(storage.JobsQueue), receiverOptions ?? new QueueReceiverOptions(),
            time: this.time, logger: this.logger);
    }

    /// <summary>How many messages went through the intake (of any outcome).</summary>
    public int MessagesTaken => messagesTaken;

    /// <summary>Takes messages until <paramref name="cancellationToken"/> is cancelled; never ends for a failure.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new OutageBackoff("The intake loop", logger, time, pollInterval, maxOutageDelay);
        while (!cancellationToken.IsCancellationRequested)
        {
            int taken;
            try
            {
                taken = await TakeAvailableAsync(cancellationToken).ConfigureAwait(false);
                backoff.Succeeded();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                try
                {
                    await backoff.WaitAfterFailureAsync(exception, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (taken == 0)
            {
                try
                {
                    await Task.Delay(pollInterval, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Receives one round of messages and submits each; returns how many were received.</summary>
    public async Task<int> TakeAvailableAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<QueueMessageLease> leases = await receiver.ReceiveAsync(QueueReceiver.MaxMessagesPerReceive, cancellationToken)
            .ConfigureAwait(false);
        await Task.WhenAll(leases.Select(lease => TakeAsync(lease, cancellationToken))).ConfigureAwait(false);
        return leases.Count;
    }

    private async Task TakeAsync(QueueMessageLease lease, CancellationToken cancellationToken)
    {
        try
        {
            IntakeResult result = await intake.SubmitAsync(lease.Text, lease.MessageId, cancellationToken).ConfigureAwait(false);
            await lease.DeleteAsync(cancellationToken).ConfigureAwait(false);
            await lease.DisposeAsync().ConfigureAwait(false);
            Interlocked.Increment(ref messagesTaken);
            logger.LogInformation("Jobs queue message {MessageId}: job {JobId} {Outcome}.", lease.MessageId, result.JobId, result.Outcome);
        }
        catch (Exception exception) when (StorageFailures.MayPass(exception) && !cancellationToken.IsCancellationRequested)
        {
            // Storage is unreachable: releasing the message would fail too. It is delivered again when its visibility
            // lapses; the loop backs off meanwhile.
            await lease.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await receiver.FailAsync(lease, exception, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
