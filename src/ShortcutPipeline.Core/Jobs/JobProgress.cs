using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>What <see cref="JobProgress.RecordImageAsync"/> did.</summary>
public enum ImageRecordOutcome
{
    /// <summary>The image is counted now.</summary>
    Recorded,

    /// <summary>The image was counted before (a redelivered work item): nothing changed.</summary>
    AlreadyRecorded,

    /// <summary>The image is counted and was the job's last one: the job is completed now.</summary>
    CompletedJob,

    /// <summary>No job has that id.</summary>
    JobNotFound,
}

/// <summary>The outcome of recording one image, with the job's counts afterwards.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="State">The job's state afterwards.</param>
/// <param name="DoneImages">How many images of the job are done.</param>
/// <param name="TotalImages">How many images the job has.</param>
public sealed record ImageRecordResult(ImageRecordOutcome Outcome, JobState State, int DoneImages, int TotalImages);

/// <summary>
/// What workers report about jobs. Every update is optimistic (ETag; retried on HTTP 412), so any number
/// of workers may report on one job at once. Completing (and failing) a job sends its callback, once. Each call is a span of
/// <see cref="PipelineTelemetry.Source"/> (<see cref="SpanNames.StartJob"/>, <see cref="SpanNames.RecordImages"/>,
/// <see cref="SpanNames.FailJob"/>) with the job id, and images recorded and jobs finished are counted in <see cref="JobMetrics"/>.
/// </summary>
public sealed class JobProgress
{
    private readonly JobStatusService statusService;
    private readonly JobStatusStore store;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    /// <summary>Progress reporting over the status records of <paramref name="statusService"/>.</summary>
    public JobProgress(JobStatusService statusService, TimeProvider? time = null, ILogger<JobProgress>? logger = null)
    {
        this.statusService = statusService ?? throw new ArgumentNullException(nameof(statusService));
        store = statusService.Store;
        this.time = time ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>
    /// Moves a queued job to <see cref="JobState.Running"/>. True when the job is running now (also when it
    /// was already); false when it is unknown or finished.
    /// </summary>
    public Task<bool> MarkRunningAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return PipelineTelemetry.TraceAsync(SpanNames.StartJob, jobId, async span =>
        {
            (JobStatusRecord? record, _) = await store.UpdateAsync(jobId, r =>
            {
                if (r.JobState != JobState.Queued)
                {
                    return false;
                }

                r.JobState = JobState.Running;
                r.StartedAt = time.GetUtcNow();
                return true;
            }, cancellationToken).ConfigureAwait(false);
            SetState(span, record);
            return record?.JobState == JobState.Running;
        });
    }

    /// <summary>
    /// Records that image <paramref name="index"/> of job <paramref name="jobId"/> is written (to
    /// <see cref="ImageBlobNames.For"/>(jobId, index)). Counting is idempotent per index: a redelivered image
    /// is never counted twice. A queued job becomes running; when every index is done, the job becomes
    /// completed and its callback (if any) receives the status JSON. Images of a cancelled or failed job
    /// are recorded but leave its state alone.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not an image index of the job.</exception>
    public Task<ImageRecordResult> RecordImageAsync(string jobId, int index, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return RecordImagesAsync(jobId, [index], cancellationToken);
    }

    /// <summary>
    /// Records several written images of one job in a single update (a worker records a work item's images
    /// at once), with the same rules as <see cref="RecordImageAsync"/>. The outcome is
    /// <see cref="ImageRecordOutcome.AlreadyRecorded"/> only when every index was counted before.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is not an image index of the job.</exception>
    public Task<ImageRecordResult> RecordImagesAsync(
        string jobId, IReadOnlyCollection<int> indices, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentNullException.ThrowIfNull(indices);
        if (indices.Count == 0 || indices.Any(index => index < 0))
        {
            throw new ArgumentOutOfRangeException(nameof(indices), "Name at least one image index, none negative.");
        }

        return PipelineTelemetry.TraceAsync(SpanNames.RecordImages, jobId, async span =>
        {
            span?.SetTag(TelemetryAttributes.Images, indices.Count);
            ImageRecordResult result = await RecordImagesUntracedAsync(jobId, indices, cancellationToken).ConfigureAwait(false);
            span?.SetTag(TelemetryAttributes.Outcome, PipelineTelemetry.Lower(result.Outcome))
                .SetTag(TelemetryAttributes.JobState, PipelineTelemetry.Lower(result.State))
                .SetTag(TelemetryAttributes.DoneImages, result.DoneImages)
                .SetTag(TelemetryAttributes.TotalImages, result.TotalImages);
            return result;
        });
    }

    private async Task<ImageRecordResult> RecordImagesUntracedAsync(string jobId, IReadOnlyCollection<int> indices, CancellationToken cancellationToken)
    {
        var outcome = ImageRecordOutcome.Recorded;
        int added = 0;
        (JobStatusRecord? record, bool changed) = await store.UpdateAsync(jobId, r =>
        {
            int outside = indices.FirstOrDefault(index => index >= r.TotalImages, -1);
            if (outside >= 0)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(indices), outside, $"Job {jobId} has {r.TotalImages} images (indices 0 to {r.TotalImages - 1}).");
            }

            if (indices.All(index => CompletedImages.Contains(r.CompletedBitmap, index)))
            {
                outcome = ImageRecordOutcome.AlreadyRecorded;
                return false;
            }

            DateTimeOffset now = time.GetUtcNow();
            r.CompletedBitmap ??= CompletedImages.Create(r.TotalImages);
            foreach (int index in indices)
            {
                CompletedImages.Add(r.CompletedBitmap, index);
            }

            int before = r.DoneImages;
            r.DoneImages = CompletedImages.Count(r.CompletedBitmap);
            added = r.DoneImages - before;
            if (r.JobState == JobState.Queued)
            {
                r.JobState = JobState.Running;
                r.StartedAt = now;
            }

            outcome = ImageRecordOutcome.Recorded;
            if (r.DoneImages == r.TotalImages && r.JobState == JobState.Running)
            {
                r.JobState = JobState.Completed;
                r.FinishedAt = now;
                outcome = ImageRecordOutcome.CompletedJob;
            }

            return true;
        }, cancellationToken).ConfigureAwait(false);

        if (record is null)
        {
            return new ImageRecordResult(ImageRecordOutcome.JobNotFound, JobState.Rejected, 0, 0);
        }

        if (changed)
        {
            JobMetrics.RecordImages(added, record.Model);
        }

        if (changed && outcome == ImageRecordOutcome.CompletedJob)
        {
            JobMetrics.RecordFinished(record);
            logger.LogInformation("Job {JobId} completed: {TotalImages} images.", jobId, record.TotalImages);
            await statusService.NotifyAsync(record, null, cancellationToken).ConfigureAwait(false);
        }

        return new ImageRecordResult(outcome, record.JobState, record.DoneImages, record.TotalImages);
    }

    /// <summary>
    /// Fails an unfinished job with <paramref name="reason"/> (shown as the status's error) and sends its
    /// callback. True when this call failed it; false when it was unknown or finished already.
    /// </summary>
    public Task<bool> MarkFailedAsync(string jobId, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return PipelineTelemetry.TraceAsync(SpanNames.FailJob, jobId, async span =>
        {
            (JobStatusRecord? record, bool changed) = await store.FinishUnlessTerminalAsync(
                jobId, JobState.Failed, time, r => r.Error = reason.Length <= 4000 ? reason : reason[..4000], cancellationToken)
                .ConfigureAwait(false);
            SetState(span, record);
            if (record is not null && changed)
            {
                JobMetrics.RecordFinished(record);
                logger.LogWarning("Job {JobId} failed: {Reason}", jobId, reason);
                await statusService.NotifyAsync(record, null, cancellationToken).ConfigureAwait(false);
            }

            return changed;
        });
    }

    /// <summary>
    /// True when a worker should skip the job's work: the job is cancelled, failed, completed, rejected or
    /// unknown, or its deadline has passed (then call <see cref="MarkFailedAsync"/> with the reason, so the
    /// client learns it).
    /// </summary>
    public async Task<bool> IsCancelledOrExpiredAsync(string jobId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        JobStatusRecord? record = await store.GetAsync(jobId, cancellationToken).ConfigureAwait(false);
        return record is null
            || record.JobState.IsTerminal()
            || (record.Deadline is DateTimeOffset deadline && deadline <= time.GetUtcNow());
    }

    /// <summary>Tags <paramref name="span"/> with the job's state after an update (none: the job is unknown).</summary>
    internal static void SetState(Activity? span, JobStatusRecord? record) =>
        span?.SetTag(TelemetryAttributes.JobState, record is null ? "unknown" : PipelineTelemetry.Lower(record.JobState));
}
