using Azure.Storage.Queues.Models;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// Takes training requests from the training queue and hands them to <see cref="TrainingRunner"/>: one
/// (<see cref="RunOnceAsync"/>, what a Container Apps Job execution does) or one after another until stopped
/// (<see cref="RunLoopAsync"/>, the local trainer).
/// </summary>
public sealed class TrainingQueueConsumer
{
    private readonly PipelineStorage storage;
    private readonly TrainingRunner runner;
    private readonly TrainerHostOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    /// <summary>A consumer of the training queue of <paramref name="storage"/>.</summary>
    public TrainingQueueConsumer(
        PipelineStorage storage, TrainingRunner runner, TrainerHostOptions options, ILogger<TrainingQueueConsumer> logger, TimeProvider? time = null)
    {
        this.storage = storage ?? throw new ArgumentNullException(nameof(storage));
        this.runner = runner ?? throw new ArgumentNullException(nameof(runner));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.logger = logger ?? throw new ArgumentNullException(nameof(logger));
        this.time = time ?? TimeProvider.System;
    }

    /// <summary>Receives one request and processes it; null when the queue has none visible.</summary>
    public async Task<TrainingMessageOutcome?> ProcessNextAsync(CancellationToken cancellationToken = default)
    {
        QueueMessage? message = (await storage.TrainingQueue.ReceiveMessageAsync(options.VisibilityTimeout, cancellationToken).ConfigureAwait(false)).Value;
        if (message is null)
        {
            return null;
        }

        logger.LogInformation("Received training request {MessageId} (delivery {Delivery}).", message.MessageId, message.DequeueCount);
        return await runner.ProcessAsync(message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Processes one request that this trainer can take, polling for up to <see cref="TrainerHostOptions.WaitForMessage"/>
    /// while the queue is empty or its requests' runs are leased by other trainers. Returns the outcome, or
    /// null (empty queue) or <see cref="TrainingMessageOutcome.Busy"/> when the wait ran out.
    /// </summary>
    public async Task<TrainingMessageOutcome?> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        long started = time.GetTimestamp();
        while (true)
        {
            TrainingMessageOutcome? outcome = await ProcessNextAsync(cancellationToken).ConfigureAwait(false);
            if (outcome is not (null or TrainingMessageOutcome.Busy) || time.GetElapsedTime(started) >= options.WaitForMessage)
            {
                return outcome;
            }

            await Task.Delay(options.PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Processes requests until <paramref name="cancellationToken"/> is cancelled; a failed attempt is logged and the loop
    /// goes on. It outlives storage outages of any length (<see cref="OutageBackoff"/>): it waits, from
    /// <see cref="TrainerHostOptions.PollInterval"/> doubling up to <see cref="OutageBackoff.DefaultMaxDelay"/>, logs the
    /// outage once, and goes on when storage is back (a request the outage interrupted is delivered again, and resumes
    /// from its last checkpoint).
    /// </summary>
    public async Task RunLoopAsync(CancellationToken cancellationToken)
    {
        var backoff = new OutageBackoff("The trainer's loop", logger, time, options.PollInterval);
        while (!cancellationToken.IsCancellationRequested)
        {
            TrainingMessageOutcome? outcome;
            try
            {
                outcome = await ProcessNextAsync(cancellationToken).ConfigureAwait(false);
                backoff.Succeeded();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;   // stopped while receiving or training: an unfinished request becomes visible again
            }
            catch (Exception exception) when (StorageFailures.MayPass(exception))
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
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogError(exception, "A training attempt failed; its request will be delivered again.");
                outcome = null;
            }

            if (outcome is null or TrainingMessageOutcome.Busy)
            {
                try
                {
                    await Task.Delay(options.PollInterval, time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }
}
