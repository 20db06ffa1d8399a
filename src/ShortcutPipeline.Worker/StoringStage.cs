using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Threading.Channels;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;

namespace ShortcutPipeline.Worker;

/// <summary>How one row of a held work item ended in the sampler: drawn, or stopped before its last step.</summary>
/// <param name="Held">Its work item.</param>
internal abstract record RowEnd(HeldWorkItem Held);

/// <summary>A row drawn to its last step and decoded: 8-bit pixels, <paramref name="Channels"/> interleaved per pixel, row-major.</summary>
internal sealed record FinishedImage(
    HeldWorkItem Held, ImageRequest Image, byte[] Pixels, int Width, int Height, int Channels, DiTConfig Config) : RowEnd(Held)
{
    /// <summary>The PNG of the image, with the provenance text chunks.</summary>
    public byte[] EncodePng() => PngWriter.Encode(Pixels, Width, Height, Channels, ImageWriter.TextChunks(Held.Item, Image, Config));
}

/// <summary>A row stopped before its last step: its job no longer wants it, or (<paramref name="ByDeadline"/>) its deadline passed.</summary>
internal sealed record StoppedRow(HeldWorkItem Held, bool ByDeadline) : RowEnd(Held);

/// <summary>
/// The storing stage, beside the sampler: it takes the rows the sampler is done with from a bounded queue (the sampler
/// waits when it is full, so memory stays flat) and, on <see cref="WorkerOptions.UploadConcurrency"/> tasks at once,
/// encodes each finished image as a PNG, writes it to its blob (create-only), records it in its job's status (coalesced
/// per job, <see cref="ProgressRecorder"/>) and, once every row of a work item has ended, deletes the item's message
/// (failing the job first when rows were stopped by its deadline). While storage is unreachable a write or record is
/// tried again until it is back; any other failure gives the item up: its message is released for a retry, or
/// poisoned on its last delivery. Nothing is deleted before it is stored.
/// </summary>
internal sealed class StoringStage
{
    private readonly Channel<RowEnd> queue;
    private readonly ImageWriter writer;
    private readonly ProgressRecorder recorder;
    private readonly JobProgress progress;
    private readonly MessageGiveUp giveUp;
    private readonly JobWatch watch;
    private readonly WorkerMetrics metrics;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Task[] consumers;
    private readonly OutageBackoff outage;

    public StoringStage(
        ImageWriter writer, JobProgress progress, MessageGiveUp giveUp, JobWatch watch, WorkerMetrics metrics, WorkerOptions options,
        TimeProvider time, ILogger logger)
    {
        this.writer = writer;
        this.progress = progress;
        this.giveUp = giveUp;
        this.watch = watch;
        this.metrics = metrics;
        this.time = time;
        this.logger = logger;
        recorder = new ProgressRecorder(progress);
        outage = new OutageBackoff("The worker's storing stage", logger, time, TimeSpan.FromMilliseconds(500));
        queue = Channel.CreateBounded<RowEnd>(new BoundedChannelOptions(options.EffectiveStoringQueueImages)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = true,
        });
        consumers = Enumerable.Range(0, options.UploadConcurrency).Select(_ => Task.Run(ConsumeAsync)).ToArray();
    }

    /// <summary>Rows waiting to be stored.</summary>
    public int QueuedRows => queue.Reader.Count;

    /// <summary>Hands a row over; waits while the queue is full.</summary>
    public ValueTask EnqueueAsync(RowEnd row) => queue.Writer.WriteAsync(row);

    /// <summary>No more rows will come: the returned task ends once every queued row is stored.</summary>
    public Task CompleteAsync()
    {
        queue.Writer.TryComplete();
        return Task.WhenAll(consumers);
    }

    /// <summary>Gives a work item up after a failed attempt (released for a retry, or poisoned on its last delivery); once.</summary>
    public async Task GiveUpAsync(HeldWorkItem held, Exception error)
    {
        if (held.TryGiveUp())
        {
            await giveUp.FailAsync(held.Lease, held.Item.JobId, error).ConfigureAwait(false);
            watch.Unwatch(held.Item.JobId);
        }
    }

    /// <summary>Poisons a work item that can never succeed (its job fails with <paramref name="reason"/>); once.</summary>
    public async Task PoisonAsync(HeldWorkItem held, string reason)
    {
        if (held.TryGiveUp())
        {
            await giveUp.PoisonAsync(held.Lease, held.Item.JobId, reason).ConfigureAwait(false);
            watch.Unwatch(held.Item.JobId);
        }
    }

    /// <summary>Why a job failed when its deadline passed before its images were drawn.</summary>
    public static string DeadlineReason(WorkItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return string.Create(CultureInfo.InvariantCulture,
            $"The deadline {item.Deadline:yyyy-MM-ddTHH:mm:ssZ} passed before images {item.Images[0].Index} to {item.Images[^1].Index} were drawn.");
    }

    private async Task ConsumeAsync()
    {
        await foreach (RowEnd row in queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (row.Held.IsDone)
            {
                continue;   // given up meanwhile: its message is released or poisoned, and a redelivery draws the row again
            }

            try
            {
                if (row is FinishedImage image)
                {
                    await StoreAsync(image).ConfigureAwait(false);
                }
                else
                {
                    metrics.RecordStopped();
                }

                if (row.Held.EndRow(row is StoppedRow { ByDeadline: true }))
                {
                    await FinishAsync(row.Held).ConfigureAwait(false);
                }
            }
            catch (Exception exception)
            {
                // A message that could not be deleted comes back after its visibility timeout and finds its images stored.
                if (!StorageFailures.MayPass(exception))
                {
                    logger.LogError(exception, "Storing an image of job {JobId} failed.", row.Held.Item.JobId);
                }

                await GiveUpAsync(row.Held, exception).ConfigureAwait(false);
            }
        }
    }

    // Writes and records one image. While storage is unreachable it waits and tries again (the stage's consumers share
    // one backoff, so the outage is logged once), as long as the item is still held; other failures give the item up.
    private async Task StoreAsync(FinishedImage image)
    {
        WorkItem item = image.Held.Item;
        byte[] png = image.EncodePng();
        while (true)
        {
            try
            {
                if (await writer.WriteAsync(item.JobId, image.Image.Index, png).ConfigureAwait(false) == ImageWriteOutcome.AlreadyExisted)
                {
                    logger.LogInformation("Image {Index} of job {JobId} was written before (a redelivery); kept the first one.", image.Image.Index, item.JobId);
                }

                await recorder.RecordAsync(item.JobId, image.Image.Index).ConfigureAwait(false);
                outage.Succeeded();
                break;
            }
            catch (Exception exception) when (StorageFailures.MayPass(exception) && !image.Held.IsDone)
            {
                await outage.WaitAfterFailureAsync(exception, CancellationToken.None).ConfigureAwait(false);
            }
        }

        metrics.RecordImageStored(item.Model, item.ModelVersion, item.Steps, Stopwatch.GetElapsedTime(image.Held.ReceivedTimestamp));
    }

    // Every row of the item has ended: fail the job if its deadline stopped rows, then delete the message.
    private async Task FinishAsync(HeldWorkItem held)
    {
        if (!held.TryFinish())
        {
            return;
        }

        WorkItem item = held.Item;
        try
        {
            if (held.MissedDeadline && item.Deadline <= time.GetUtcNow())
            {
                await progress.MarkFailedAsync(item.JobId, DeadlineReason(item)).ConfigureAwait(false);
            }

            await held.Lease.DeleteAsync().ConfigureAwait(false);
        }
        finally
        {
            // Should either call fail, the message comes back after its visibility timeout and a redelivery finds every image stored.
            await held.Lease.DisposeAsync().ConfigureAwait(false);
            watch.Unwatch(item.JobId);
        }

        logger.LogInformation("Finished a work item of job {JobId}: images {First} to {Last}.", item.JobId, item.Images[0].Index, item.Images[^1].Index);
    }
}

/// <summary>
/// Records stored images in the job statuses, coalesced per job: at most one status update of a job is in flight,
/// and the images stored meanwhile go into its next update together. So a pass that finishes many rows of one job
/// costs a few updates of its status record, not one per image, while images of different jobs are recorded
/// concurrently; and while a job's updates follow one another (until none of its images is pending), each after the
/// first writes without reading the record first (<see cref="KnownJobStatus"/>). Thread-safe.
/// </summary>
internal sealed class ProgressRecorder(JobProgress progress)
{
    private readonly Dictionary<string, JobUpdates> jobs = new(StringComparer.Ordinal);   // locked

    /// <summary>Records image <paramref name="index"/> of job <paramref name="jobId"/>; completes once it is in the status.</summary>
    public Task RecordAsync(string jobId, int index)
    {
        var recorded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool startFlushing;
        lock (jobs)
        {
            if (!jobs.TryGetValue(jobId, out JobUpdates? updates))
            {
                jobs[jobId] = updates = new JobUpdates();
            }

            updates.Pending.Add((index, recorded));
            startFlushing = !updates.Flushing;
            updates.Flushing = true;
        }

        if (startFlushing)
        {
            _ = FlushAsync(jobId);
        }

        return recorded.Task;
    }

    // Sends the job's pending images in one update, then the ones that came meanwhile, until none is left.
    private async Task FlushAsync(string jobId)
    {
        while (true)
        {
            List<(int Index, TaskCompletionSource Recorded)> batch;
            KnownJobStatus known;
            lock (jobs)
            {
                JobUpdates updates = jobs[jobId];
                known = updates.Known;
                if (updates.Pending.Count == 0)
                {
                    jobs.Remove(jobId);
                    return;
                }

                batch = [.. updates.Pending];
                updates.Pending.Clear();
            }

            try
            {
                await progress.RecordImagesAsync(jobId, batch.Select(b => b.Index).Distinct().ToList(), known, CancellationToken.None)
                    .ConfigureAwait(false);
                batch.ForEach(b => b.Recorded.TrySetResult());
            }
            catch (Exception exception)
            {
                batch.ForEach(b => b.Recorded.TrySetException(exception));
            }
        }
    }

    private sealed class JobUpdates
    {
        public List<(int Index, TaskCompletionSource Recorded)> Pending { get; } = [];

        public bool Flushing { get; set; }

        // The status as the last update left it (dropped with the entry): while no one else writes, each update after the
        // first is one request.
        public KnownJobStatus Known { get; } = new();
    }
}

/// <summary>What <see cref="ImageWriter.WriteAsync"/> did.</summary>
public enum ImageWriteOutcome
{
    /// <summary>The blob was created now.</summary>
    Written,

    /// <summary>The blob existed already (an earlier delivery wrote it) and was left as it is.</summary>
    AlreadyExisted,
}

/// <summary>
/// Encodes sampled images as PNG (ImageSharp) with provenance text chunks and writes each to its deterministic
/// blob name, <see cref="ImageBlobNames.For"/>(jobId, index), with a create-only condition (If-None-Match: *):
/// a redelivered work item never replaces an image, so each image of a job is written exactly once.
/// </summary>
public sealed class ImageWriter
{
    /// <summary>The PNG text keywords the worker writes.</summary>
    public static class Keywords
    {
        /// <summary>The job id.</summary>
        public const string JobId = "jobId";

        /// <summary>The image index within the job.</summary>
        public const string Index = "index";

        /// <summary>The seed of the image's noise.</summary>
        public const string Seed = "seed";

        /// <summary>The step budget.</summary>
        public const string Steps = "steps";

        /// <summary>The class name (or label number; "unconditional" when none).</summary>
        public const string Class = "class";

        /// <summary>The class label number (absent for unconditional images).</summary>
        public const string Label = "label";

        /// <summary>The guidance scale.</summary>
        public const string CfgScale = "cfgScale";

        /// <summary>The model name.</summary>
        public const string Model = "model";

        /// <summary>The model version.</summary>
        public const string ModelVersion = "modelVersion";
    }

    private readonly BlobContainerClient container;

    /// <summary>A writer into <paramref name="storage"/>'s images container.</summary>
    public ImageWriter(PipelineStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        container = storage.ImagesContainer;
    }

    /// <summary>The text chunks of image <paramref name="image"/> of <paramref name="item"/>, drawn with a model of <paramref name="config"/>.</summary>
    public static IReadOnlyDictionary<string, string> TextChunks(WorkItem item, ImageRequest image, DiTConfig config)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(config);
        var text = new Dictionary<string, string>
        {
            [Keywords.JobId] = item.JobId,
            [Keywords.Index] = Invariant(image.Index),
            [Keywords.Seed] = Invariant(image.Seed),
            [Keywords.Steps] = Invariant(item.Steps),
            [Keywords.Class] = ClassName(image.Label, config),
            [Keywords.CfgScale] = Invariant(item.CfgScale),
            [Keywords.Model] = item.Model,
            [Keywords.ModelVersion] = item.ModelVersion,
        };
        if (image.Label is int label)
        {
            text[Keywords.Label] = Invariant(label);
        }

        return text;
    }

    /// <summary>The class name of <paramref name="label"/>: the model's name for it, else its number; "unconditional" for null.</summary>
    public static string ClassName(int? label, DiTConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return label switch
        {
            null => "unconditional",
            int l when l >= 0 && l < config.ClassNames.Count => config.ClassNames[l],
            int l => Invariant(l),
        };
    }

    /// <summary>
    /// Creates the blob of image <paramref name="index"/> of job <paramref name="jobId"/> unless it exists; an existing
    /// blob counts as written and is never replaced.
    /// </summary>
    public async Task<ImageWriteOutcome> WriteAsync(string jobId, int index, byte[] png, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(png);
        BlobClient blob = container.GetBlobClient(ImageBlobNames.For(jobId, index));
        var options = new BlobUploadOptions
        {
            Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
            HttpHeaders = new BlobHttpHeaders { ContentType = "image/png" },
        };
        try
        {
            await blob.UploadAsync(new BinaryData(png), options, cancellationToken).ConfigureAwait(false);
            return ImageWriteOutcome.Written;
        }
        catch (RequestFailedException exception)
            when (exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            return ImageWriteOutcome.AlreadyExisted;
        }
    }

    private static string Invariant(IFormattable value) => value.ToString(null, CultureInfo.InvariantCulture);
}
