using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Worker;

/// <summary>
/// The worker: three stages over the work queue, each running beside the others.
/// <list type="number">
/// <item>The receive loop leases work items (their visibility renewed while held), drops those of cancelled, finished
/// or expired jobs, poisons unreadable ones, and hands each image to the <see cref="StepScheduler{T}"/> as a row.</item>
/// <item>The <see cref="SamplingEngine"/> runs forward passes: before each, the scheduler admits waiting rows of any
/// step budget up to the row limit (<see cref="WorkerOptions.MaxRowsPerPass"/>; priority, then deadline, then age),
/// and rows that ran their last step leave at once.</item>
/// <item>The <see cref="StoringStage"/> encodes, writes and records the finished images and deletes each message once
/// every image of its work item is stored.</item>
/// </list>
/// A message that keeps failing goes to the poison queue and its job fails. Storage outages of any length are ridden
/// out (<see cref="OutageBackoff"/>: each stage waits, logs the outage once, and goes on when storage is back). When
/// the host stops (SIGTERM), the worker
/// stops receiving, hands back the work items none of whose rows has started (another worker takes them at once), and
/// finishes and stores the rest.
/// </summary>
public sealed class WorkerService : BackgroundService
{
    private readonly JobProgress progress;
    private readonly SamplingService sampling;
    private readonly ImageWriter writer;
    private readonly WorkerMetrics metrics;
    private readonly WorkerOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly QueueReceiver receiver;
    private readonly MessageGiveUp giveUp;
    private readonly string poisonQueueName;
    private double imagesPerItem = 1;   // a running mean of the images per received work item

    /// <summary>A worker over <paramref name="storage"/>'s work queue.</summary>
    public WorkerService(
        PipelineStorage storage, JobProgress progress, SamplingService sampling, ImageWriter writer, WorkerMetrics metrics,
        WorkerOptions options, TimeProvider? time = null, ILogger<WorkerService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.progress = progress ?? throw new ArgumentNullException(nameof(progress));
        this.sampling = sampling ?? throw new ArgumentNullException(nameof(sampling));
        this.writer = writer ?? throw new ArgumentNullException(nameof(writer));
        this.metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        this.time = time ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        var poisonQueue = storage.PoisonQueueOf(storage.WorkQueue);
        poisonQueueName = poisonQueue.Name;
        receiver = new QueueReceiver(storage.WorkQueue, poisonQueue, options.ReceiverOptions, OnPoisonedAsync, this.time, this.logger);
        giveUp = new MessageGiveUp(receiver, metrics, this.logger);
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var scheduler = new StepScheduler<HeldWorkItem>(
            options.Scheduling, options.MaxRowsPerPass, options.EffectiveMaxResidentRows, options.LoadedModels, options.MaxBatchWait);
        await using var watch = new JobWatch(progress, options.CancellationPollInterval, time, logger);
        var storing = new StoringStage(writer, progress, giveUp, watch, metrics, options, time, logger);
        using var engine = new SamplingEngine(scheduler, sampling, storing, watch, metrics, options.PollInterval, time, logger);
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        Task sampler = SamplerThread.Start(engine.RunAsync);
        _ = sampler.ContinueWith(_ => receiving.Cancel(), TaskScheduler.Default);   // the sampler ends early only when it broke
        Task queueDepth = PollQueueDepthAsync(stoppingToken);
        logger.LogInformation(
            "Worker started on {Queue}: {Policy} scheduling, up to {Rows} rows per forward pass, {Resident} started at most.",
            receiver.QueueName, options.Scheduling, options.MaxRowsPerPass, options.EffectiveMaxResidentRows);
        IReadOnlyList<HeldWorkItem> unstarted = [];
        try
        {
            await ReceiveAsync(scheduler, engine, watch, receiving.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (receiving.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            unstarted = engine.Drain();
            await ReleaseAsync(unstarted, watch).ConfigureAwait(false);
            try
            {
                await sampler.ConfigureAwait(false);   // the started rows are finished, whatever the stop
            }
            finally
            {
                await storing.CompleteAsync().ConfigureAwait(false);
                await queueDepth.ConfigureAwait(false);
                logger.LogInformation("Worker stopped after {Passes} forward passes; released {Held} work items it had not started.",
                    engine.Passes, unstarted.Count);
            }
        }
    }

    // Receives while fewer images wait than allowed; each received item's images become rows of the scheduler.
    private async Task ReceiveAsync(StepScheduler<HeldWorkItem> scheduler, SamplingEngine engine, JobWatch watch, CancellationToken cancellationToken)
    {
        var backoff = new OutageBackoff("The worker's receive loop", logger, time, options.PollInterval);
        TimeSpan emptyQueueWait = options.EffectiveBusyPollInterval;
        while (!cancellationToken.IsCancellationRequested)
        {
            int room;
            lock (scheduler)
            {
                room = options.EffectiveMaxPendingImages - scheduler.WaitingRows;
            }

            if (room <= 0)
            {
                await engine.WaitForRoomAsync(options.PollInterval, cancellationToken).ConfigureAwait(false);
                continue;
            }

            // As many work items as there is room for at the images per item seen so far; several receives at once when
            // that is more than one brings, since a pass can take more rows than one round trip to the queue delivers.
            int wanted = Math.Max(1, (int)Math.Ceiling(room / imagesPerItem));
            int calls = Math.Clamp((wanted + QueueReceiver.MaxMessagesPerReceive - 1) / QueueReceiver.MaxMessagesPerReceive, 1, options.ReceiveConcurrency);
            wanted = Math.Min(wanted, QueueReceiver.MaxMessagesPerReceive * calls);
            IReadOnlyList<QueueMessageLease> leases;
            try
            {
                IReadOnlyList<QueueMessageLease>[] received = await Task.WhenAll(Enumerable.Range(0, calls).Select(call =>
                    receiver.ReceiveAsync(Math.Min(QueueReceiver.MaxMessagesPerReceive, wanted - (call * QueueReceiver.MaxMessagesPerReceive)), cancellationToken)))
                    .ConfigureAwait(false);
                leases = received.SelectMany(r => r).ToList();
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                await backoff.WaitAfterFailureAsync(exception, cancellationToken).ConfigureAwait(false);
                continue;
            }

            backoff.Succeeded();

            // Admission is not cancellable: every lease ends up in the scheduler, deleted, released or poisoned.
            HeldWorkItem?[] admitted = await Task.WhenAll(leases.Select(lease => AdmitAsync(lease, watch))).ConfigureAwait(false);
            DateTimeOffset now = time.GetUtcNow();
            lock (scheduler)
            {
                foreach (HeldWorkItem held in admitted.OfType<HeldWorkItem>())
                {
                    scheduler.Add(held, held.Item, now);
                    imagesPerItem = (0.9 * imagesPerItem) + (0.1 * held.Item.Images.Count);
                }
            }

            engine.Wake();
            if (leases.Count < wanted)
            {
                // The queue had no more: a worker that is drawing, or just received work, asks again soon; an idle one
                // waits twice as long after each empty answer, up to PollInterval.
                bool busy;
                lock (scheduler)
                {
                    busy = leases.Count > 0 || !scheduler.IsEmpty;
                }

                emptyQueueWait = busy ? options.EffectiveBusyPollInterval : TimeSpan.FromTicks(Math.Min(2 * emptyQueueWait.Ticks, options.PollInterval.Ticks));
                await Task.Delay(emptyQueueWait, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<HeldWorkItem?> AdmitAsync(QueueMessageLease lease, JobWatch watch)
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
                    await progress.MarkFailedAsync(item.JobId, StoringStage.DeadlineReason(item)).ConfigureAwait(false);
                }

                await lease.DeleteAsync().ConfigureAwait(false);
                await lease.DisposeAsync().ConfigureAwait(false);
                metrics.RecordSkipped();
                logger.LogInformation("Skipped a work item of job {JobId}: the job is cancelled, finished, unknown or past its deadline.", item.JobId);
                return null;
            }

            watch.Watch(item.JobId);
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

    // Hands back the messages of work items the worker will not start: visible to every worker at once.
    private async Task ReleaseAsync(IReadOnlyList<HeldWorkItem> held, JobWatch watch)
    {
        await Task.WhenAll(held.Where(h => h.TryGiveUp()).Select(async h =>
        {
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
                watch.Unwatch(h.Item.JobId);
            }
        })).ConfigureAwait(false);
    }

    private async Task PollQueueDepthAsync(CancellationToken cancellationToken)
    {
        var backoff = new OutageBackoff("The worker's queue-depth reading", logger, time, options.QueueDepthPollInterval);
        try
        {
            while (true)
            {
                try
                {
                    metrics.RecordQueueDepth(await receiver.GetApproximateLengthAsync(cancellationToken).ConfigureAwait(false));
                    backoff.Succeeded();
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    await backoff.WaitAfterFailureAsync(exception, cancellationToken).ConfigureAwait(false);
                    continue;
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

/// <summary>
/// A received work item and the lease on its message, while the worker holds it. Each of its rows ends once:
/// stored (written and recorded) or stopped (its job no longer wants it, or its deadline passed). When the last one
/// ends, the message is deleted (<see cref="TryFinish"/>). When an attempt fails instead, the item is given up
/// (<see cref="TryGiveUp"/>: its message released for a retry or poisoned) and its other rows are dropped. Thread-safe:
/// rows end on the storing stage's tasks and the sampler's loop at once.
/// </summary>
internal sealed class HeldWorkItem(QueueMessageLease lease, WorkItem item)
{
    private const int Active = 0, Finished = 1, GivenUp = 2;
    private int state;
    private int rowsLeft = item.Images.Count;
    private int deadlineStops;
    private int checkedForModel;

    public QueueMessageLease Lease { get; } = lease;

    public WorkItem Item { get; } = item;

    /// <summary>When the worker received it (a <see cref="System.Diagnostics.Stopwatch"/> timestamp, for latency figures).</summary>
    public long ReceivedTimestamp { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>True once the message is deleted or given up: its remaining rows are not wanted.</summary>
    public bool IsDone => Volatile.Read(ref state) != Active;

    /// <summary>True when some of its rows were stopped because the deadline passed.</summary>
    public bool MissedDeadline => Volatile.Read(ref deadlineStops) > 0;

    /// <summary>True the first time it is called: the caller checks once whether the model can draw the item.</summary>
    public bool NeedsModelCheck() => Interlocked.Exchange(ref checkedForModel, 1) == 0;

    /// <summary>Counts one of its rows as ended (stored, or stopped); true when it was the last.</summary>
    public bool EndRow(bool stoppedByDeadline = false)
    {
        if (stoppedByDeadline)
        {
            Interlocked.Increment(ref deadlineStops);
        }

        return Interlocked.Decrement(ref rowsLeft) == 0;
    }

    /// <summary>True when this call moves the item to finished (its message is to be deleted now).</summary>
    public bool TryFinish() => Interlocked.CompareExchange(ref state, Finished, Active) == Active;

    /// <summary>True when this call gives the item up (its message is to be released or poisoned now).</summary>
    public bool TryGiveUp() => Interlocked.CompareExchange(ref state, GivenUp, Active) == Active;
}

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

/// <summary>
/// Watches the jobs whose work items the worker holds: reads each job's status every poll interval in the
/// background and remembers the jobs that no longer want images (cancelled, failed, finished, unknown, past their
/// deadline), so that the sampler can drop their rows between forward passes without waiting on storage. It also
/// marks a job running when its first row starts (<see cref="MarkStarted"/>); a job that cannot be marked is stopped.
/// </summary>
internal sealed class JobWatch : IAsyncDisposable
{
    private readonly JobProgress progress;
    private readonly TimeSpan interval;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Dictionary<string, int> watched = new(StringComparer.Ordinal);   // job id -> work items held; locked
    private readonly ConcurrentDictionary<string, bool> stopped = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> started = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource polling = new();
    private readonly Task poller;

    public JobWatch(JobProgress progress, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        this.progress = progress;
        this.interval = interval;
        this.time = time;
        this.logger = logger;
        poller = PollAsync(polling.Token);
    }

    /// <summary>Starts watching <paramref name="jobId"/> for one more held work item.</summary>
    public void Watch(string jobId)
    {
        lock (watched)
        {
            watched[jobId] = watched.GetValueOrDefault(jobId) + 1;
        }
    }

    /// <summary>One held work item of <paramref name="jobId"/> is done; the job is forgotten with its last one.</summary>
    public void Unwatch(string jobId)
    {
        lock (watched)
        {
            if (watched.TryGetValue(jobId, out int count) && count > 1)
            {
                watched[jobId] = count - 1;
                return;
            }

            watched.Remove(jobId);
            stopped.TryRemove(jobId, out _);
            started.TryRemove(jobId, out _);
        }
    }

    /// <summary>True when job <paramref name="jobId"/> no longer wants images.</summary>
    public bool IsStopped(string jobId) => stopped.ContainsKey(jobId);

    /// <summary>Marks the job running (once, in the background) as its first row starts.</summary>
    public void MarkStarted(string jobId) => started.GetOrAdd(jobId, id => MarkRunningAsync(id));

    /// <summary>Stops polling and waits for the marks in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        await polling.CancelAsync().ConfigureAwait(false);
        await poller.ConfigureAwait(false);
        await Task.WhenAll(started.Values).ConfigureAwait(false);
        polling.Dispose();
    }

    private async Task MarkRunningAsync(string jobId)
    {
        try
        {
            if (!await progress.MarkRunningAsync(jobId, CancellationToken.None).ConfigureAwait(false))
            {
                Stop(jobId);
            }
        }
        catch (Exception exception)
        {
            // The job's first image record marks it running anyway; an outage is logged by the worker's loops.
            logger.Log(StorageFailures.MayPass(exception) ? LogLevel.Debug : LogLevel.Warning, exception, "Could not mark job {JobId} running.", jobId);
        }
    }

    private void Stop(string jobId)
    {
        if (stopped.TryAdd(jobId, true))
        {
            logger.LogInformation("Job {JobId} no longer wants images: stopping its rows.", jobId);
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        var backoff = new OutageBackoff("The worker's job watch", logger, time, interval);
        try
        {
            while (true)
            {
                await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
                try
                {
                    List<string> jobIds;
                    lock (watched)
                    {
                        jobIds = watched.Keys.Where(id => !IsStopped(id)).ToList();
                    }

                    await Task.WhenAll(jobIds.Select(async id =>
                    {
                        if (await progress.IsCancelledOrExpiredAsync(id, cancellationToken).ConfigureAwait(false))
                        {
                            Stop(id);
                        }
                    })).ConfigureAwait(false);
                    backoff.Succeeded();
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    await backoff.WaitAfterFailureAsync(exception, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The worker is stopping.
        }
    }
}
