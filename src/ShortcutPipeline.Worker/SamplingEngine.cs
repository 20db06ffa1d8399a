using System.Diagnostics;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;
using static TorchSharp.torch;

namespace ShortcutPipeline.Worker;

/// <summary>
/// The sampler stage of the worker: one loop of forward passes, on a thread of its own (<see cref="SamplerThread"/>;
/// its awaits come back to that thread). Before each pass it drops the rows of jobs that no
/// longer want them (cancelled, past their deadline, given up), asks the <see cref="StepScheduler{T}"/> for the pass's
/// rows, starts the new ones in their model's <see cref="SamplerRows"/> (loading the model version first if needed),
/// runs one sampler step over all of them, and hands the rows that ran their last step, decoded to pixels, to the
/// <see cref="StoringStage"/> at once while the others go on. Started by <see cref="WorkerService"/>; the scheduler
/// is shared with its receive loop under a lock.
/// </summary>
internal sealed class SamplingEngine : IDisposable
{
    private readonly StepScheduler<HeldWorkItem> scheduler;
    private readonly SamplingService sampling;
    private readonly StoringStage storing;
    private readonly JobWatch watch;
    private readonly WorkerMetrics metrics;
    private readonly TimeProvider time;
    private readonly TimeSpan idleWait;
    private readonly ILogger logger;
    private readonly Dictionary<ModelKey, Lane> lanes = [];
    private readonly CancellationTokenSource draining = new();
    private readonly AsyncSignal wake;
    private readonly AsyncSignal rowsStarted;
    private readonly OutageBackoff outage;

    public SamplingEngine(
        StepScheduler<HeldWorkItem> scheduler, SamplingService sampling, StoringStage storing, JobWatch watch, WorkerMetrics metrics,
        TimeSpan idleWait, TimeProvider time, ILogger logger)
    {
        this.scheduler = scheduler;
        this.sampling = sampling;
        this.storing = storing;
        this.watch = watch;
        this.metrics = metrics;
        this.idleWait = idleWait;
        this.time = time;
        this.logger = logger;
        wake = new AsyncSignal(time);
        rowsStarted = new AsyncSignal(time);
        outage = new OutageBackoff("The worker's model loading", logger, time, idleWait);
    }

    /// <summary>Forward passes run so far.</summary>
    public long Passes { get; private set; }

    /// <summary>Tells the loop that rows were added (or the time moved), so it plans again now.</summary>
    public void Wake() => wake.Set();

    /// <summary>Waits until rows start (there is room for more to wait), or at most <paramref name="timeout"/>.</summary>
    public Task WaitForRoomAsync(TimeSpan timeout, CancellationToken cancellationToken) => rowsStarted.WaitAsync(timeout, cancellationToken);

    /// <summary>
    /// From now on the loop runs only what has started: it takes the waiting work items none of whose rows started
    /// (the caller hands them back), finishes the rest, and then ends.
    /// </summary>
    public IReadOnlyList<HeldWorkItem> Drain()
    {
        IReadOnlyList<HeldWorkItem> unstarted;
        lock (scheduler)
        {
            unstarted = scheduler.TakeUnstarted();
            draining.Cancel();
        }

        Wake();
        return unstarted;
    }

    /// <summary>The loop; it ends after <see cref="Drain"/> once nothing is left.</summary>
    public async Task RunAsync()
    {
        while (true)
        {
            await DropUnwantedRowsAsync();
            PassPlan<HeldWorkItem>? plan;
            DateTimeOffset? dueAt;
            bool drained = draining.IsCancellationRequested;
            lock (scheduler)
            {
                plan = scheduler.NextPass(drained ? DateTimeOffset.MaxValue : time.GetUtcNow());
                dueAt = scheduler.NextDueAt;
                metrics.SetRows(scheduler.WaitingRows, scheduler.ResidentRows, storing.QueuedRows);
                if (plan is null && drained && scheduler.IsEmpty)
                {
                    return;
                }
            }

            if (plan is null)
            {
                await WaitForWorkAsync(dueAt);
                continue;
            }

            await RunPassAsync(plan);
        }
    }

    /// <summary>Frees the sampler rows of every model.</summary>
    public void Dispose()
    {
        foreach (Lane lane in lanes.Values)
        {
            Close(lane);
        }

        lanes.Clear();
        draining.Dispose();
    }

    private Task WaitForWorkAsync(DateTimeOffset? dueAt)
    {
        TimeSpan wait = idleWait;
        if (dueAt is DateTimeOffset due && due - time.GetUtcNow() < wait)
        {
            wait = due - time.GetUtcNow();
        }

        return wake.WaitAsync(wait);
    }

    // Between passes: rows of jobs that stopped wanting images, of given-up items, or past their deadline leave.
    private async Task DropUnwantedRowsAsync()
    {
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyList<ScheduledRow<HeldWorkItem>> dropped;
        lock (scheduler)
        {
            dropped = scheduler.RemoveWhere(r => r.Tag.IsDone || watch.IsStopped(r.Item.JobId) || r.Item.Deadline <= now);
        }

        foreach (ScheduledRow<HeldWorkItem> row in dropped)
        {
            if (row.Started && lanes.TryGetValue(row.Model, out Lane? lane) && lane.Rows.Holds(row.Slot))
            {
                lane.Rows.Free(row.Slot);
            }

            if (!row.Tag.IsDone)
            {
                await storing.EnqueueAsync(new StoppedRow(row.Tag, ByDeadline: row.Item.Deadline <= now));
            }
        }

        ReleaseEmptyLanes();
    }

    private async Task RunPassAsync(PassPlan<HeldWorkItem> plan)
    {
        Lane? lane = await LaneOfAsync(plan);
        if (lane is null)
        {
            return;
        }

        List<ScheduledRow<HeldWorkItem>> starting = plan.Starting.Where(r => !r.Tag.IsDone).ToList();
        List<ScheduledRow<HeldWorkItem>> rows = plan.Rows.Where(r => !r.Tag.IsDone).ToList();
        var clock = Stopwatch.StartNew();
        List<ScheduledRow<HeldWorkItem>> finished;
        try
        {
            IReadOnlyList<int> slots = lane.Rows.Start(starting.Select(Request).ToList());
            for (int i = 0; i < starting.Count; i++)
            {
                starting[i].Slot = slots[i];
            }

            MarkStarted(starting);
            if (starting.Count > 0)
            {
                rowsStarted.Set();
            }

            lane.Rows.Step(rows.Select(r => r.Slot).ToList());
            Passes++;
            finished = rows.Where(r => lane.Rows.IsFinished(r.Slot)).ToList();
            if (finished.Count > 0)
            {
                await HandOverAsync(lane, finished);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogError(exception, "A forward pass of {Model} {Version} failed; giving up the work items of its rows.", plan.Model.Model, plan.Model.Version);
            await GiveUpLaneAsync(plan.Model, exception);
            return;
        }

        int waiting;
        lock (scheduler)
        {
            foreach (ScheduledRow<HeldWorkItem> row in finished)
            {
                scheduler.Finish(row);
            }

            waiting = scheduler.WaitingRows;
        }

        metrics.RecordPass(new PassRecord(
            plan.Model.Model, plan.Model.Version, rows.Count, rows.Select(r => r.Item.Steps).Distinct().Order().ToList(), starting.Count,
            finished.Count, waiting, clock.Elapsed));
        ReleaseEmptyLanes();
    }

    // The lane of the pass's model, loaded first if needed; null when the model is not usable (its rows' items are given up)
    // or when every starting row's item was poisoned because the model cannot draw it.
    private async Task<Lane?> LaneOfAsync(PassPlan<HeldWorkItem> plan)
    {
        if (!lanes.TryGetValue(plan.Model, out Lane? lane))
        {
            LoadedModel model;
            try
            {
                ReleaseEmptyLanes(keepModelsWithRows: false);   // their models may be unloaded to make room
                model = await sampling.AcquireModelAsync(plan.Model.Model, plan.Model.Version);
            }
            catch (Exception exception) when (StorageFailures.MayPass(exception))
            {
                lock (scheduler)
                {
                    scheduler.Unstart(plan.Starting);   // they wait until the model can be downloaded
                }

                await outage.WaitAfterFailureAsync(exception, CancellationToken.None);
                return null;
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogError(exception, "Model {Model} {Version} is not available.", plan.Model.Model, plan.Model.Version);
                await GiveUpLaneAsync(plan.Model, exception);
                return null;
            }

            outage.Succeeded();

            lanes[plan.Model] = lane = new Lane(model, new SamplerRows(model.Sampler, scheduler.MaxResidentRows));
        }

        foreach (HeldWorkItem held in plan.Starting.Select(r => r.Tag).Distinct().Where(h => h.NeedsModelCheck()))
        {
            if (SamplingService.CheckItem(held.Item, lane.Model.Config) is string problem)
            {
                await storing.PoisonAsync(held, "The work item cannot be drawn: " + problem);
            }
        }

        lock (scheduler)
        {
            scheduler.RemoveWhere(r => r.Tag.IsDone && r.Slot < 0);   // the rows of poisoned items: none has a slot yet
        }

        return plan.Rows.Any(r => !r.Tag.IsDone) ? lane : null;
    }

    // Decodes the finished rows in one call and queues each image for storing.
    private async Task HandOverAsync(Lane lane, List<ScheduledRow<HeldWorkItem>> finished)
    {
        byte[] pixels;
        int channels, height, width;
        using (var scope = NewDisposeScope())
        {
            Tensor samples = lane.Rows.Take(finished.Select(r => r.Slot).ToList());
            Tensor bytes = lane.Model.Decoder.DecodeToBytes(samples);
            (channels, height, width) = ((int)bytes.shape[1], (int)bytes.shape[2], (int)bytes.shape[3]);
            pixels = bytes.permute(0, 2, 3, 1).contiguous().data<byte>().ToArray();
        }

        int size = channels * height * width;
        for (int i = 0; i < finished.Count; i++)
        {
            ScheduledRow<HeldWorkItem> row = finished[i];
            await storing.EnqueueAsync(new FinishedImage(
                row.Tag, row.Image, pixels.AsSpan(i * size, size).ToArray(), width, height, channels, lane.Model.Config));
        }
    }

    // Gives up every work item with a row of this model version and drops the rows and the lane.
    private async Task GiveUpLaneAsync(ModelKey model, Exception error)
    {
        IReadOnlyList<ScheduledRow<HeldWorkItem>> rows;
        lock (scheduler)
        {
            rows = scheduler.RemoveWhere(r => r.Model == model);
        }

        foreach (HeldWorkItem held in rows.Select(r => r.Tag).Distinct())
        {
            await storing.GiveUpAsync(held, error);
        }

        if (lanes.Remove(model, out Lane? lane))
        {
            Close(lane);
        }
    }

    // Closes the lanes without started rows; by default only those whose model has no rows waiting either.
    private void ReleaseEmptyLanes(bool keepModelsWithRows = true)
    {
        foreach ((ModelKey model, Lane lane) in lanes.Where(l => l.Value.Rows.Count == 0).ToList())
        {
            bool wanted;
            lock (scheduler)
            {
                wanted = keepModelsWithRows && scheduler.HoldsRowsOf(model);
            }

            if (!wanted)
            {
                lanes.Remove(model);
                Close(lane);
            }
        }
    }

    private void Close(Lane lane)
    {
        lane.Rows.Dispose();
        sampling.ReleaseModel(lane.Model);
    }

    // Marks the jobs of the starting rows running (once per job; a 1-step job's image record does that itself, in the same
    // status update that completes it) and says what started.
    private void MarkStarted(List<ScheduledRow<HeldWorkItem>> starting)
    {
        foreach (IGrouping<string, ScheduledRow<HeldWorkItem>> job in starting.GroupBy(r => r.Item.JobId, StringComparer.Ordinal))
        {
            ScheduledRow<HeldWorkItem> first = job.First();
            if (first.Item.Steps > 1)
            {
                watch.MarkStarted(job.Key);
            }

            logger.LogInformation("Started {Rows} rows of job {JobId} at {Steps} steps with {Model} {Version}.",
                job.Count(), job.Key, first.Item.Steps, first.Model.Model, first.Model.Version);
        }
    }

    private static SampleRequest Request(ScheduledRow<HeldWorkItem> row) =>
        new(row.Image.Label, row.Item.Steps, row.Item.CfgScale, row.Image.Seed);

    private sealed record Lane(LoadedModel Model, SamplerRows Rows);
}

/// <summary>
/// A wake-up call between the worker's loops: <see cref="Set"/> ends the current or the next <see cref="WaitAsync"/>
/// (a set before the wait is not lost); each wait consumes it. Thread-safe.
/// </summary>
internal sealed class AsyncSignal(TimeProvider time)
{
    private TaskCompletionSource current = New();

    /// <summary>Wakes the waiter.</summary>
    public void Set() => Volatile.Read(ref current).TrySetResult();

    /// <summary>Waits until <see cref="Set"/> or at most <paramref name="timeout"/> (on the signal's clock).</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource signal = Volatile.Read(ref current);
        if (!signal.Task.IsCompleted && timeout > TimeSpan.Zero)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(signal.Task, Task.Delay(timeout, time, timer.Token)).ConfigureAwait(false);
            await timer.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (signal.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref current, New(), signal);
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A thread of its own for the sampler loop, with a synchronization context that brings every await of the loop back
/// to it. A forward pass holds its thread for tens of milliseconds to seconds, pass after pass: on the thread pool of a
/// two-core machine that left one pool thread for every storage call, timer and receive of the worker, and a 1-step job
/// waited seconds for its storage calls behind the passes. On the GPU, one thread also keeps every launch on one stream.
/// </summary>
internal static class SamplerThread
{
    /// <summary>Runs <paramref name="loop"/> on a new thread until its task ends; the task returned ends with it.</summary>
    public static Task Start(Func<Task> loop, string name = "Shortcut sampler")
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            using var context = new LoopContext();
            SynchronizationContext.SetSynchronizationContext(context);
            Task task;
            try
            {
                task = loop();
            }
            catch (Exception exception)
            {
                task = Task.FromException(exception);
            }

            task.ContinueWith(_ => context.Complete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            context.Run();
            if (task.Exception is { } error)
            {
                done.SetException(error.InnerExceptions);
            }
            else if (task.IsCanceled)
            {
                done.SetCanceled();
            }
            else
            {
                done.SetResult();
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    // Runs what is posted to it, in order, on the thread that calls Run, until Complete.
    private sealed class LoopContext : SynchronizationContext, IDisposable
    {
        private readonly System.Collections.Concurrent.BlockingCollection<(SendOrPostCallback Callback, object? State)> queue = [];

        public override void Post(SendOrPostCallback d, object? state)
        {
            try
            {
                queue.Add((d, state));
            }
            catch (InvalidOperationException)
            {
                ThreadPool.QueueUserWorkItem(callback => d(callback), state);   // the loop has ended: late work runs on the pool
            }
        }

        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("The sampler thread takes posts only.");

        public override SynchronizationContext CreateCopy() => this;

        public void Complete() => queue.CompleteAdding();

        public void Run()
        {
            foreach ((SendOrPostCallback callback, object? state) in queue.GetConsumingEnumerable())
            {
                callback(state);
            }
        }

        public void Dispose() => queue.Dispose();
    }
}
