using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Worker;

/// <summary>
/// The worker's receive loop over the work queue. It receives work items (each message leased, its visibility
/// renewed while the worker holds it), drops those of cancelled, finished or expired jobs, poisons unreadable ones,
/// groups the rest with <see cref="Batcher{T}"/> by model version and step budget, and runs each batch (sample,
/// write PNGs, record progress, delete messages). A message that keeps failing goes to the work queue's poison
/// queue and its job fails. When the host stops (SIGTERM), it stops receiving, finishes and stores the batch in
/// flight, and releases the work items it holds but has not started, so another worker takes them at once.
/// </summary>
public sealed class WorkerService : BackgroundService
{
    private readonly JobProgress progress;
    private readonly WorkerMetrics metrics;
    private readonly WorkerOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly QueueReceiver receiver;
    private readonly MessageGiveUp giveUp;
    private readonly BatchProcessor processor;
    private readonly string poisonQueueName;

    /// <summary>A worker over <paramref name="storage"/>'s work queue.</summary>
    public WorkerService(
        PipelineStorage storage, JobProgress progress, SamplingService sampling, ImageWriter writer, WorkerMetrics metrics,
        WorkerOptions options, TimeProvider? time = null, ILogger<WorkerService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(writer);
        this.progress = progress ?? throw new ArgumentNullException(nameof(progress));
        this.metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        this.time = time ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        var poisonQueue = storage.PoisonQueueOf(storage.WorkQueue);
        poisonQueueName = poisonQueue.Name;
        receiver = new QueueReceiver(storage.WorkQueue, poisonQueue, options.ReceiverOptions, OnPoisonedAsync, this.time, this.logger);
        giveUp = new MessageGiveUp(receiver, metrics, this.logger);
        processor = new BatchProcessor(giveUp, sampling, writer, progress, metrics, options, this.time, this.logger);
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var batcher = new Batcher<HeldWorkItem>(options.MaxBatchImages, options.MaxBatchWait);
        Task queueDepth = PollQueueDepthAsync(stoppingToken);
        int batchNumber = 0;
        logger.LogInformation("Worker started on {Queue}: batches of up to {MaxBatchImages} images, waiting at most {MaxBatchWait}.",
            receiver.QueueName, options.MaxBatchImages, options.MaxBatchWait);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                bool drained = await ReceiveAsync(batcher, stoppingToken).ConfigureAwait(false);
                SampleBatch<HeldWorkItem>? batch = batcher.TakeReady(time.GetUtcNow());
                metrics.SetPendingImages(batcher.PendingImages);
                if (batch is not null)
                {
                    // Not cancellable: on shutdown the batch in flight is finished and stored.
                    await processor.RunAsync(batch, ++batchNumber, CancellationToken.None).ConfigureAwait(false);
                }
                else if (drained)
                {
                    await WaitAsync(batcher, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            IReadOnlyList<HeldWorkItem> held = batcher.TakeAll();
            metrics.SetPendingImages(0);
            await ReleaseAsync(held).ConfigureAwait(false);
            await queueDepth.ConfigureAwait(false);
            logger.LogInformation("Worker stopped after {Batches} batches; released {Held} work items it had not started.", batchNumber, held.Count);
        }
    }

    // Receives while there is room; true when the queue gave fewer messages than asked (or there is no room).
    private async Task<bool> ReceiveAsync(Batcher<HeldWorkItem> batcher, CancellationToken cancellationToken)
    {
        int room = options.EffectiveMaxPendingImages - batcher.PendingImages;
        if (room <= 0)
        {
            return true;
        }

        int wanted = Math.Min(QueueReceiver.MaxMessagesPerReceive, room);
        IReadOnlyList<QueueMessageLease> leases;
        try
        {
            leases = await receiver.ReceiveAsync(wanted, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogError(exception, "Receiving from {Queue} failed; trying again.", receiver.QueueName);
            return true;
        }

        // Admission is not cancellable: every lease ends up in the batcher, deleted, released or poisoned.
        HeldWorkItem?[] admitted = await Task.WhenAll(leases.Select(AdmitAsync)).ConfigureAwait(false);
        DateTimeOffset now = time.GetUtcNow();
        foreach (HeldWorkItem held in admitted.OfType<HeldWorkItem>())
        {
            batcher.Add(held, held.Item, now);
        }

        return leases.Count < wanted;
    }

    private async Task<HeldWorkItem?> AdmitAsync(QueueMessageLease lease)
    {
        try
        {
            WorkItem item;
            try
            {
                item = WorkItem.Parse(lease.Text);
            }
            catch (FormatException exception)
            {
                await receiver.PoisonAsync(lease, "The message is not a work item: " + exception.Message).ConfigureAwait(false);
                return null;
            }

            if (await progress.IsCancelledOrExpiredAsync(item.JobId).ConfigureAwait(false))
            {
                if (item.Deadline <= time.GetUtcNow())
                {
                    await progress.MarkFailedAsync(item.JobId, BatchProcessor.DeadlineReason(item)).ConfigureAwait(false);
                }

                await lease.DeleteAsync().ConfigureAwait(false);
                await lease.DisposeAsync().ConfigureAwait(false);
                metrics.RecordSkipped();
                logger.LogInformation("Skipped a work item of job {JobId}: the job is cancelled, finished, unknown or past its deadline.", item.JobId);
                return null;
            }

            return new HeldWorkItem(lease, item);
        }
        catch (Exception exception)
        {
            await giveUp.FailAsync(lease, jobId: null, exception).ConfigureAwait(false);
            return null;
        }
    }

    private async Task OnPoisonedAsync(QueueMessageLease lease, string reason, CancellationToken cancellationToken)
    {
        metrics.RecordPoisoned();
        WorkItem item;
        try
        {
            item = WorkItem.Parse(lease.Text);
        }
        catch (FormatException)
        {
            return;   // no job to tell
        }

        await progress.MarkFailedAsync(item.JobId, string.Create(CultureInfo.InvariantCulture,
            $"The work item with images {item.Images[0].Index} to {item.Images[^1].Index} was moved to the poison queue {poisonQueueName}: {reason}"),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task WaitAsync(Batcher<HeldWorkItem> batcher, CancellationToken cancellationToken)
    {
        TimeSpan wait = options.PollInterval;
        if (batcher.NextDueAt is DateTimeOffset due)
        {
            TimeSpan untilDue = due - time.GetUtcNow();
            wait = untilDue < wait ? untilDue : wait;
        }

        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReleaseAsync(IReadOnlyList<HeldWorkItem> held)
    {
        await Task.WhenAll(held.Where(h => !h.Released).Select(async h =>
        {
            h.Released = true;
            try
            {
                await h.Lease.ReleaseAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "Could not release message {MessageId}; it returns after its visibility timeout.", h.Lease.MessageId);
            }
            finally
            {
                await h.Lease.DisposeAsync().ConfigureAwait(false);
            }
        })).ConfigureAwait(false);
    }

    private async Task PollQueueDepthAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                try
                {
                    metrics.RecordQueueDepth(await receiver.GetApproximateLengthAsync(cancellationToken).ConfigureAwait(false));
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    logger.LogWarning(exception, "Reading the length of {Queue} failed.", receiver.QueueName);
                }

                await Task.Delay(options.QueueDepthPollInterval, time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
