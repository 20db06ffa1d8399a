using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ShortcutPipeline.Worker;

/// <summary>One forward pass as the worker ran it.</summary>
/// <param name="Model">The model name.</param>
/// <param name="ModelVersion">The model version.</param>
/// <param name="Rows">Rows in the pass (images; a guided row costs the network a second row).</param>
/// <param name="Budgets">The step budgets of its rows, ascending, each once.</param>
/// <param name="StartedRows">Rows that started with this pass.</param>
/// <param name="FinishedRows">Rows that ran their last step in it and went to storing.</param>
/// <param name="WaitingRows">Rows still waiting to start after it.</param>
/// <param name="Duration">Starting the new rows, the step, and decoding and handing over the finished ones.</param>
public sealed record PassRecord(
    string Model, string ModelVersion, int Rows, IReadOnlyList<int> Budgets, int StartedRows, int FinishedRows, int WaitingRows,
    TimeSpan Duration);

/// <summary>The worker's figures at one moment (what tests, the local run and the benchmarks read).</summary>
/// <param name="Passes">The most recent forward passes (at most <see cref="WorkerMetrics.KeptPasses"/>), oldest first.</param>
/// <param name="ForwardPasses">All forward passes run.</param>
/// <param name="RowsInPasses">Rows over all forward passes (a row counts once per pass it is in).</param>
/// <param name="SamplingTime">Time spent in forward passes (see <see cref="PassRecord.Duration"/>).</param>
/// <param name="ImagesStored">All images stored (written or found written, and recorded).</param>
/// <param name="StoppedRows">Rows stopped before their last step (cancelled job, passed deadline).</param>
/// <param name="ImagesPerSecond">Images stored per second, from the start of the first pass to the last image stored.</param>
/// <param name="QueueDepth">The work queue's approximate length when last read (null: not read yet).</param>
/// <param name="WaitingRows">Rows of received work items waiting to start.</param>
/// <param name="ResidentRows">Rows started and not finished.</param>
/// <param name="StoringRows">Rows handed to the storing stage and not taken up yet.</param>
/// <param name="PoisonedMessages">Messages moved to the poison queue.</param>
/// <param name="SkippedWorkItems">Work items dropped on receipt because their job was cancelled, finished or past its deadline.</param>
/// <param name="FailedAttempts">Work item deliveries that failed and were released for a retry.</param>
public sealed record WorkerMetricsSnapshot(
    IReadOnlyList<PassRecord> Passes, long ForwardPasses, long RowsInPasses, TimeSpan SamplingTime, long ImagesStored, long StoppedRows,
    double ImagesPerSecond, int? QueueDepth, int WaitingRows, int ResidentRows, int StoringRows, long PoisonedMessages,
    long SkippedWorkItems, long FailedAttempts)
{
    /// <summary>Mean rows per forward pass (0 before the first).</summary>
    public double MeanRowsPerPass => ForwardPasses == 0 ? 0 : (double)RowsInPasses / ForwardPasses;
}

/// <summary>
/// The worker's metrics: instruments of the meter <see cref="MeterName"/> (for OpenTelemetry or dotnet-counters:
/// forward passes, rows per pass, pass duration, images and their latency from receipt to storage by step budget,
/// stopped rows, images/s, queue depth, waiting, resident and storing rows, poisoned messages) and the same figures
/// in-process through <see cref="Snapshot"/>.
/// </summary>
public sealed class WorkerMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ShortcutPipeline.Worker";

    /// <summary>How many recent passes <see cref="Snapshot"/> lists.</summary>
    public const int KeptPasses = 1000;

    private readonly Meter meter;
    private readonly Counter<long> passes;
    private readonly Histogram<int> passRows;
    private readonly Histogram<double> passSeconds;
    private readonly Counter<long> images;
    private readonly Histogram<double> imageSeconds;
    private readonly Counter<long> stopped;
    private readonly Counter<long> poisoned;
    private readonly Counter<long> skipped;
    private readonly Counter<long> failed;
    private readonly Queue<PassRecord> recent = new();
    private readonly object gate = new();
    private long passCount;
    private long rowsInPasses;
    private TimeSpan samplingTime;
    private long imagesStored;
    private long stoppedCount;
    private long poisonedCount;
    private long skippedCount;
    private long failedCount;
    private int? queueDepth;
    private int waitingRows;
    private int residentRows;
    private int storingRows;
    private long? firstPassStarted;   // Stopwatch timestamps: images/s is real elapsed time, whatever clock the worker uses
    private long? lastImageStored;

    /// <summary>Metrics on a new meter (from <paramref name="meterFactory"/> when given).</summary>
    public WorkerMetrics(IMeterFactory? meterFactory = null)
    {
        meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        passes = meter.CreateCounter<long>("shortcut.worker.forward_passes", "{pass}", "Forward passes of the sampler.");
        passRows = meter.CreateHistogram<int>("shortcut.worker.pass_rows", "{row}", "Rows (images) per forward pass.");
        passSeconds = meter.CreateHistogram<double>("shortcut.worker.pass_duration", "s", "One forward pass, with starting and handing over rows.");
        images = meter.CreateCounter<long>("shortcut.worker.images", "{image}", "Images stored.");
        imageSeconds = meter.CreateHistogram<double>("shortcut.worker.image_latency", "s", "From receiving a work item to storing one of its images.");
        stopped = meter.CreateCounter<long>("shortcut.worker.stopped_rows", "{row}", "Rows stopped before their last step (cancelled job, passed deadline).");
        poisoned = meter.CreateCounter<long>("shortcut.worker.poisoned_messages", "{message}", "Messages moved to the poison queue.");
        skipped = meter.CreateCounter<long>("shortcut.worker.skipped_work_items", "{item}", "Work items of cancelled, finished or expired jobs.");
        failed = meter.CreateCounter<long>("shortcut.worker.failed_attempts", "{attempt}", "Work item deliveries that failed and will be retried.");
        meter.CreateObservableGauge("shortcut.worker.queue_depth", () => queueDepth ?? 0, "{message}", "Approximate length of the work queue.");
        meter.CreateObservableGauge("shortcut.worker.waiting_rows", () => Volatile.Read(ref waitingRows), "{row}", "Rows waiting to start.");
        meter.CreateObservableGauge("shortcut.worker.resident_rows", () => Volatile.Read(ref residentRows), "{row}", "Rows started and not finished.");
        meter.CreateObservableGauge("shortcut.worker.storing_rows", () => Volatile.Read(ref storingRows), "{row}", "Rows queued for storing.");
        meter.CreateObservableGauge("shortcut.worker.images_per_second", () => Snapshot().ImagesPerSecond, "{image}/s", "Images stored per second.");
    }

    /// <summary>Records a forward pass.</summary>
    public void RecordPass(PassRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var tags = new TagList { { "model", record.Model }, { "model_version", record.ModelVersion } };
        passes.Add(1, tags);
        passRows.Record(record.Rows, tags);
        passSeconds.Record(record.Duration.TotalSeconds, tags);
        lock (gate)
        {
            firstPassStarted ??= Stopwatch.GetTimestamp() - (long)(record.Duration.TotalSeconds * Stopwatch.Frequency);
            passCount++;
            rowsInPasses += record.Rows;
            samplingTime += record.Duration;
            recent.Enqueue(record);
            while (recent.Count > KeptPasses)
            {
                recent.Dequeue();
            }
        }
    }

    /// <summary>Records an image of <paramref name="model"/> <paramref name="modelVersion"/> stored, <paramref name="latency"/> after its work item was received.</summary>
    public void RecordImageStored(string model, string modelVersion, int steps, TimeSpan latency)
    {
        var tags = new TagList { { "model", model }, { "model_version", modelVersion }, { "steps", steps } };
        images.Add(1, tags);
        imageSeconds.Record(latency.TotalSeconds, tags);
        lock (gate)
        {
            imagesStored++;
            lastImageStored = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Counts a row stopped before its last step.</summary>
    public void RecordStopped()
    {
        stopped.Add(1);
        Interlocked.Increment(ref stoppedCount);
    }

    /// <summary>Records the work queue's approximate length.</summary>
    public void RecordQueueDepth(int depth)
    {
        lock (gate)
        {
            queueDepth = depth;
        }
    }

    /// <summary>Sets how many rows wait, are resident, and are queued for storing.</summary>
    public void SetRows(int waiting, int resident, int storing)
    {
        Volatile.Write(ref waitingRows, waiting);
        Volatile.Write(ref residentRows, resident);
        Volatile.Write(ref storingRows, storing);
    }

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
            double seconds = firstPassStarted is { } start && lastImageStored is { } end ? Stopwatch.GetElapsedTime(start, end).TotalSeconds : 0;
            return new WorkerMetricsSnapshot(
                recent.ToList(), passCount, rowsInPasses, samplingTime, imagesStored, Interlocked.Read(ref stoppedCount),
                seconds > 0 ? imagesStored / seconds : 0, queueDepth, Volatile.Read(ref waitingRows), Volatile.Read(ref residentRows),
                Volatile.Read(ref storingRows), Interlocked.Read(ref poisonedCount), Interlocked.Read(ref skippedCount),
                Interlocked.Read(ref failedCount));
        }
    }

    /// <summary>Disposes the meter.</summary>
    public void Dispose() => meter.Dispose();
}
