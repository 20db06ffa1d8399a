using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ShortcutPipeline.Worker;

/// <summary>One sampler batch as the worker ran it.</summary>
/// <param name="Model">The model name.</param>
/// <param name="ModelVersion">The model version.</param>
/// <param name="Steps">The step budget of every image in it.</param>
/// <param name="Images">Its size (sampler rows).</param>
/// <param name="WorkItems">How many work items (or slices of one) it held.</param>
/// <param name="ForwardPasses">The sampler steps that ran.</param>
/// <param name="ImagesStored">Images written (or found written) and recorded.</param>
/// <param name="StoppedImages">Rows stopped between steps (cancelled job, passed deadline).</param>
/// <param name="SamplingTime">Sampling and decoding.</param>
/// <param name="StoringTime">PNG encoding, uploads, progress records and message deletes.</param>
/// <param name="FinishedAt">When it was stored.</param>
public sealed record BatchRecord(
    string Model, string ModelVersion, int Steps, int Images, int WorkItems, int ForwardPasses, int ImagesStored, int StoppedImages,
    TimeSpan SamplingTime, TimeSpan StoringTime, DateTimeOffset FinishedAt);

/// <summary>The worker's figures at one moment (what tests and the local run read).</summary>
/// <param name="Batches">The most recent batches (at most <see cref="WorkerMetrics.KeptBatches"/>), oldest first.</param>
/// <param name="BatchCount">All batches run.</param>
/// <param name="ForwardPasses">All sampler steps run, over all batches.</param>
/// <param name="ImagesStored">All images stored.</param>
/// <param name="ImagesPerSecond">Images stored per second, from the start of the first batch to the end of the last.</param>
/// <param name="QueueDepth">The work queue's approximate length when last read (null: not read yet).</param>
/// <param name="PendingImages">Images of received work items waiting for a batch.</param>
/// <param name="PoisonedMessages">Messages moved to the poison queue.</param>
/// <param name="SkippedWorkItems">Work items dropped because their job was cancelled, finished or past its deadline.</param>
/// <param name="FailedAttempts">Work item deliveries that failed and were released for a retry.</param>
public sealed record WorkerMetricsSnapshot(
    IReadOnlyList<BatchRecord> Batches, long BatchCount, long ForwardPasses, long ImagesStored, double ImagesPerSecond, int? QueueDepth,
    int PendingImages, long PoisonedMessages, long SkippedWorkItems, long FailedAttempts);

/// <summary>
/// The worker's metrics: instruments of the meter <see cref="MeterName"/> (for OpenTelemetry or dotnet-counters:
/// batches, batch size and forward passes by step budget, images, images/s, queue depth, pending images, poisoned
/// messages) and the same figures in-process through <see cref="Snapshot"/>.
/// </summary>
public sealed class WorkerMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ShortcutPipeline.Worker";

    /// <summary>How many recent batches <see cref="Snapshot"/> lists.</summary>
    public const int KeptBatches = 1000;

    private readonly Meter meter;
    private readonly Counter<long> batches;
    private readonly Histogram<int> batchImages;
    private readonly Counter<long> forwardPasses;
    private readonly Counter<long> images;
    private readonly Histogram<double> batchSeconds;
    private readonly Counter<long> poisoned;
    private readonly Counter<long> skipped;
    private readonly Counter<long> failed;
    private readonly Queue<BatchRecord> recent = new();
    private readonly object gate = new();
    private long batchCount;
    private long forwardPassCount;
    private long imagesStored;
    private long poisonedCount;
    private long skippedCount;
    private long failedCount;
    private int? queueDepth;
    private int pendingImages;
    private long? firstBatchStarted;   // Stopwatch timestamps: images/s is real elapsed time, whatever clock the worker uses
    private long? lastBatchFinished;

    /// <summary>Metrics on a new meter (from <paramref name="meterFactory"/> when given).</summary>
    public WorkerMetrics(IMeterFactory? meterFactory = null)
    {
        meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        batches = meter.CreateCounter<long>("shortcut.worker.batches", "{batch}", "Sampler batches run.");
        batchImages = meter.CreateHistogram<int>("shortcut.worker.batch_size", "{image}", "Images per sampler batch.");
        forwardPasses = meter.CreateCounter<long>("shortcut.worker.forward_passes", "{pass}", "Sampler steps (model forward passes over a batch).");
        images = meter.CreateCounter<long>("shortcut.worker.images", "{image}", "Images stored.");
        batchSeconds = meter.CreateHistogram<double>("shortcut.worker.batch_duration", "s", "Time from sampling a batch to storing it.");
        poisoned = meter.CreateCounter<long>("shortcut.worker.poisoned_messages", "{message}", "Messages moved to the poison queue.");
        skipped = meter.CreateCounter<long>("shortcut.worker.skipped_work_items", "{item}", "Work items of cancelled, finished or expired jobs.");
        failed = meter.CreateCounter<long>("shortcut.worker.failed_attempts", "{attempt}", "Work item deliveries that failed and will be retried.");
        meter.CreateObservableGauge("shortcut.worker.queue_depth", () => queueDepth ?? 0, "{message}", "Approximate length of the work queue.");
        meter.CreateObservableGauge("shortcut.worker.pending_images", () => Volatile.Read(ref pendingImages), "{image}", "Images waiting for a batch.");
        meter.CreateObservableGauge("shortcut.worker.images_per_second", () => Snapshot().ImagesPerSecond, "{image}/s", "Images stored per second.");
    }

    /// <summary>Marks that a batch is starting (the images/s clock starts with the first).</summary>
    public void BatchStarting()
    {
        lock (gate)
        {
            firstBatchStarted ??= Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Records a finished batch.</summary>
    public void RecordBatch(BatchRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var tags = new TagList { { "steps", record.Steps }, { "model", record.Model }, { "model_version", record.ModelVersion } };
        batches.Add(1, tags);
        batchImages.Record(record.Images, tags);
        forwardPasses.Add(record.ForwardPasses, tags);
        images.Add(record.ImagesStored, tags);
        batchSeconds.Record((record.SamplingTime + record.StoringTime).TotalSeconds, tags);
        lock (gate)
        {
            batchCount++;
            forwardPassCount += record.ForwardPasses;
            imagesStored += record.ImagesStored;
            lastBatchFinished = Stopwatch.GetTimestamp();
            recent.Enqueue(record);
            while (recent.Count > KeptBatches)
            {
                recent.Dequeue();
            }
        }
    }

    /// <summary>Records the work queue's approximate length.</summary>
    public void RecordQueueDepth(int depth)
    {
        lock (gate)
        {
            queueDepth = depth;
        }
    }

    /// <summary>Sets how many images wait for a batch.</summary>
    public void SetPendingImages(int count) => Volatile.Write(ref pendingImages, count);

    /// <summary>Counts a message moved to the poison queue.</summary>
    public void RecordPoisoned()
    {
        poisoned.Add(1);
        Interlocked.Increment(ref poisonedCount);
    }

    /// <summary>Counts a work item dropped because its job no longer wants it.</summary>
    public void RecordSkipped()
    {
        skipped.Add(1);
        Interlocked.Increment(ref skippedCount);
    }

    /// <summary>Counts a failed delivery that will be retried.</summary>
    public void RecordFailedAttempt()
    {
        failed.Add(1);
        Interlocked.Increment(ref failedCount);
    }

    /// <summary>The figures now.</summary>
    public WorkerMetricsSnapshot Snapshot()
    {
        lock (gate)
        {
            double seconds = firstBatchStarted is { } start && lastBatchFinished is { } end ? Stopwatch.GetElapsedTime(start, end).TotalSeconds : 0;
            return new WorkerMetricsSnapshot(
                recent.ToList(), batchCount, forwardPassCount, imagesStored, seconds > 0 ? imagesStored / seconds : 0, queueDepth,
                Volatile.Read(ref pendingImages), Interlocked.Read(ref poisonedCount), Interlocked.Read(ref skippedCount),
                Interlocked.Read(ref failedCount));
        }
    }

    /// <summary>Disposes the meter.</summary>
    public void Dispose() => meter.Dispose();
}
