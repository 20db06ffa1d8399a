using System.Diagnostics;
using System.Numerics;
using System.Runtime.Serialization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Core.Telemetry;

// The job status, in one place: what a client sees of a job (JobState, JobStatus), its options, the client's view and
// cancellation (JobStatusService), what workers report (JobProgress), and below them the status record in the jobs table
// with every transition of its state (JobStatusRecord: queued, rejected, running, completed, failed, cancelled, images
// recorded) and its store with optimistic updates (JobStatusStore). The intake creates records through the same store.

namespace ShortcutPipeline.Core.Jobs;

/// <summary>Where a job stands. Rejected, Completed, Failed and Cancelled are terminal.</summary>
public enum JobState
{
    /// <summary>The message broke the contract; the reasons say how. Nothing was enqueued.</summary>
    Rejected,

    /// <summary>Accepted and split into work items; no image is done yet.</summary>
    Queued,

    /// <summary>A worker has started on it.</summary>
    Running,

    /// <summary>Every image is done.</summary>
    Completed,

    /// <summary>A worker gave up on it (the error says why), or its deadline passed.</summary>
    Failed,

    /// <summary>Cancelled by the user before it finished.</summary>
    Cancelled,
}

/// <summary>Helpers for <see cref="JobState"/>.</summary>
public static class JobStates
{
    /// <summary>True for the states a job never leaves.</summary>
    public static bool IsTerminal(this JobState state) =>
        state is JobState.Rejected or JobState.Completed or JobState.Failed or JobState.Cancelled;
}

/// <summary>
/// What a client sees of a job (GET /api/jobs/{id}, and the body of callbacks). JSON with
/// <see cref="PipelineJson.Options"/>: camelCase, enums as camelCase strings, nulls left out.
/// </summary>
/// <param name="Id">The job id.</param>
/// <param name="State">Where the job stands.</param>
/// <param name="Reasons">Why the job was rejected (empty unless <see cref="JobState.Rejected"/>).</param>
/// <param name="Model">The model name.</param>
/// <param name="ModelVersion">The model version resolved at intake.</param>
/// <param name="Steps">Sampling steps.</param>
/// <param name="CfgScale">Classifier-free guidance scale.</param>
/// <param name="Seed">The job seed (the client's or the derived one).</param>
/// <param name="Priority">The priority.</param>
/// <param name="Deadline">The deadline, if any.</param>
/// <param name="TotalImages">How many images the job asks for.</param>
/// <param name="DoneImages">How many of them are done.</param>
/// <param name="Images">The finished images, by index.</param>
/// <param name="CreatedAt">When the job was submitted.</param>
/// <param name="UpdatedAt">When the record last changed.</param>
/// <param name="StartedAt">When a worker started on it.</param>
/// <param name="FinishedAt">When it reached a terminal state.</param>
/// <param name="Error">Why it failed.</param>
public sealed record JobStatus(
    string Id, JobState State, IReadOnlyList<string> Reasons,
    string? Model, string? ModelVersion, int? Steps, double? CfgScale, long? Seed, JobPriority? Priority, DateTimeOffset? Deadline,
    int TotalImages, int DoneImages, IReadOnlyList<JobImage> Images,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Error)
{
    /// <summary>DoneImages / TotalImages (0 for a job without images).</summary>
    public double Progress => TotalImages == 0 ? 0 : (double)DoneImages / TotalImages;
}

/// <summary>One finished image.</summary>
/// <param name="Index">The image index within the job.</param>
/// <param name="BlobName">The blob name in the images container (<see cref="ImageBlobNames.For"/>).</param>
/// <param name="Url">A link to it (SAS or plain, per <see cref="JobStatusOptions.ImageLinks"/>).</param>
public sealed record JobImage(int Index, string BlobName, Uri Url);

/// <summary>A message as submitted, as the status record keeps it.</summary>
/// <param name="Text">The message text (UTF-8; cut at the storage limit when <paramref name="Truncated"/>).</param>
/// <param name="Bytes">The original size in UTF-8 bytes.</param>
/// <param name="Truncated">True when <paramref name="Text"/> is only the beginning of the message.</param>
/// <param name="MessageId">The queue message id (or request id) it came with, if any.</param>
public sealed record SubmittedMessage(string Text, int Bytes, bool Truncated, string? MessageId);

/// <summary>The outcome of <see cref="JobStatusService.CancelAsync"/>.</summary>
public enum CancelOutcome
{
    /// <summary>The job is cancelled now.</summary>
    Cancelled,

    /// <summary>The job had finished already (completed, failed, cancelled or rejected): nothing changed.</summary>
    AlreadyFinished,

    /// <summary>No job has that id.</summary>
    NotFound,
}

/// <summary>The outcome of a cancellation and the job's status after it (null when not found).</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Status">The job's status afterwards.</param>
public sealed record CancelResult(CancelOutcome Outcome, JobStatus? Status);

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

/// <summary>How image links are made in a <see cref="JobStatus"/>.</summary>
public enum ImageLinkMode
{
    /// <summary>
    /// Read-only SAS URLs: signed with the account key when the storage connection has one (a connection
    /// string), with a user delegation key when it authenticates with an identity.
    /// </summary>
    Sas,

    /// <summary>Plain blob URLs (for public containers, or callers that authenticate themselves).</summary>
    Plain,
}

/// <summary>Options of the status and progress services (configuration section <see cref="SectionName"/>).</summary>
public sealed class JobStatusOptions
{
    /// <summary>The configuration section these options bind from (<c>ShortcutPipeline__Status__ImageLinks</c>, ...).</summary>
    public const string SectionName = "ShortcutPipeline:Status";

    /// <summary>How image links are made (default <see cref="ImageLinkMode.Sas"/>).</summary>
    public ImageLinkMode ImageLinks { get; set; } = ImageLinkMode.Sas;

    /// <summary>How long an image SAS URL stays valid (default 1 hour).</summary>
    public TimeSpan SasLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often a status update is tried when other writers keep changing the record (default 100).</summary>
    public int UpdateAttempts { get; set; } = 100;
}

/// <summary>
/// The client's view of jobs: <see cref="GetAsync"/> (state, progress, image links, reasons) and
/// <see cref="CancelAsync"/>. Also makes the status JSON that callbacks carry.
/// </summary>
public sealed class JobStatusService
{
    private readonly PipelineStorage storage;
    private readonly JobStatusOptions options;
    private readonly JobCallbackClient callbacks;
    private readonly TimeProvider time;
    private readonly JobStatusStore store;
    private readonly SemaphoreSlim delegationKeyLock = new(1, 1);
    private UserDelegationKey? delegationKey;

    /// <summary>
    /// A status service over <paramref name="storage"/>; callbacks go through <paramref name="callbacks"/> (when null,
    /// a client with the default, strict <see cref="Callbacks.CallbackOptions"/>).
    /// </summary>
    public JobStatusService(
        PipelineStorage storage, JobStatusOptions? options = null, JobCallbackClient? callbacks = null, TimeProvider? time = null)
    {
        this.storage = storage ?? throw new ArgumentNullException(nameof(storage));
        this.options = options ?? new JobStatusOptions();
        this.time = time ?? TimeProvider.System;
        this.callbacks = callbacks ?? new JobCallbackClient(storage);
        store = new JobStatusStore(storage, this.time, this.options.UpdateAttempts);
    }

    internal JobStatusStore Store => store;

    /// <summary>The client that sends callbacks (its guard checks callback URLs at intake too).</summary>
    internal JobCallbackClient Callbacks => callbacks;

    /// <summary>The status of job <paramref name="jobId"/>, or null when there is no such job (or the id is malformed).</summary>
    public async Task<JobStatus?> GetAsync(string jobId, CancellationToken cancellationToken = default)
    {
        if (!GenerationJobReader.IsValidJobId(jobId))
        {
            return null;
        }

        JobStatusRecord? record = await store.GetAsync(jobId, cancellationToken).ConfigureAwait(false);
        return record is null ? null : await ToStatusAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads again the statuses of <paramref name="jobIds"/> that may still change, into <paramref name="statuses"/> (one per
    /// id, null where none was read yet): a job in a terminal state never changes, so it is not read again.
    /// </summary>
    public Task RefreshAsync(IReadOnlyList<string> jobIds, JobStatus?[] statuses, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jobIds);
        ArgumentNullException.ThrowIfNull(statuses);
        ArgumentOutOfRangeException.ThrowIfNotEqual(statuses.Length, jobIds.Count, nameof(statuses));
        return Task.WhenAll(Enumerable.Range(0, jobIds.Count)
            .Where(i => statuses[i] is not { } known || !known.State.IsTerminal())
            .Select(async i => statuses[i] = await GetAsync(jobIds[i], cancellationToken).ConfigureAwait(false)));
    }

    /// <summary>The message job <paramref name="jobId"/> was submitted with (kept, truncated if huge, on its record), or null.</summary>
    public async Task<SubmittedMessage?> GetSubmittedMessageAsync(string jobId, CancellationToken cancellationToken = default)
    {
        if (!GenerationJobReader.IsValidJobId(jobId))
        {
            return null;
        }

        JobMessageRecord? record = await store.GetMessageAsync(jobId, cancellationToken).ConfigureAwait(false);
        return record is null
            ? null
            : new SubmittedMessage(
                Encoding.UTF8.GetString(record.Message ?? []), record.MessageBytes, record.MessageTruncated, record.MessageId);
    }

    /// <summary>
    /// Cancels job <paramref name="jobId"/> unless it has finished already. Workers skip the rest of a
    /// cancelled job's work (<see cref="JobProgress.IsCancelledOrExpiredAsync"/>). A callback is sent.
    /// </summary>
    /// <remarks>Traced as span <see cref="SpanNames.CancelJob"/> with the job id; a cancellation is counted in <see cref="JobMetrics"/>.</remarks>
    public async Task<CancelResult> CancelAsync(string jobId, CancellationToken cancellationToken = default)
    {
        if (!GenerationJobReader.IsValidJobId(jobId))
        {
            return new CancelResult(CancelOutcome.NotFound, null);
        }

        return await PipelineTelemetry.TraceAsync(SpanNames.CancelJob, jobId, async span =>
        {
            (JobStatusRecord? record, bool changed) = await store.UpdateAsync(
                jobId, r => r.Finish(JobState.Cancelled, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
            JobProgress.SetState(span, record);
            if (record is null)
            {
                return new CancelResult(CancelOutcome.NotFound, null);
            }

            JobStatus status = await ToStatusAsync(record, cancellationToken).ConfigureAwait(false);
            if (changed)
            {
                JobMetrics.RecordFinished(record);
                await NotifyAsync(record, status, cancellationToken).ConfigureAwait(false);
            }

            var result = new CancelResult(changed ? CancelOutcome.Cancelled : CancelOutcome.AlreadyFinished, status);
            span?.SetTag(TelemetryAttributes.Outcome, PipelineTelemetry.Lower(result.Outcome));
            return result;
        }).ConfigureAwait(false);
    }

    /// <summary>Sends the callback of a job that just reached a terminal state (if it has a callback URL).</summary>
    internal async Task NotifyAsync(JobStatusRecord record, JobStatus? status, CancellationToken cancellationToken)
    {
        if (record.CallbackUrl is null || !Uri.TryCreate(record.CallbackUrl, UriKind.Absolute, out Uri? callbackUrl))
        {
            return;
        }

        status ??= await ToStatusAsync(record, cancellationToken).ConfigureAwait(false);
        await callbacks.SendAsync(callbackUrl, status, cancellationToken).ConfigureAwait(false);
    }

    internal async Task<JobStatus> ToStatusAsync(JobStatusRecord record, CancellationToken cancellationToken)
    {
        IReadOnlyList<JobImage> images = [];
        if (record.DoneImages > 0)
        {
            Func<BlobClient, Uri> link = await CreateLinkerAsync(cancellationToken).ConfigureAwait(false);
            BlobContainerClient container = storage.ImagesContainer;
            images = record.CompletedIndices()
                .Select(index =>
                {
                    string blobName = ImageBlobNames.For(record.JobId, index);
                    return new JobImage(index, blobName, link(container.GetBlobClient(blobName)));
                })
                .ToList();
        }

        return new JobStatus(
            record.JobId, record.State, record.Reasons,
            record.Model, record.ModelVersion, record.Steps, record.CfgScale, record.Seed, record.Priority, record.Deadline,
            record.TotalImages, record.DoneImages, images,
            record.CreatedAt, record.UpdatedAt, record.StartedAt, record.FinishedAt, record.Error);
    }

    private async Task<Func<BlobClient, Uri>> CreateLinkerAsync(CancellationToken cancellationToken)
    {
        if (options.ImageLinks == ImageLinkMode.Plain)
        {
            return blob => blob.Uri;
        }

        DateTimeOffset expiresOn = time.GetUtcNow() + options.SasLifetime;
        if (storage.ImagesContainer.CanGenerateSasUri)
        {
            return blob => blob.GenerateSasUri(BlobSasPermissions.Read, expiresOn);
        }

        if (!storage.Clients.UsesIdentity)
        {
            return blob => blob.Uri;
        }

        UserDelegationKey key = await GetDelegationKeyAsync(expiresOn, cancellationToken).ConfigureAwait(false);
        string accountName = storage.Clients.BlobService.AccountName;
        return blob =>
        {
            var sas = new BlobSasBuilder(BlobSasPermissions.Read, expiresOn)
            {
                BlobContainerName = blob.BlobContainerName,
                BlobName = blob.Name,
                Resource = "b",
            };
            return new BlobUriBuilder(blob.Uri) { Sas = sas.ToSasQueryParameters(key, accountName) }.ToUri();
        };
    }

    // One user delegation key serves many links; a new one is fetched when it would expire before a link made now.
    private async Task<UserDelegationKey> GetDelegationKeyAsync(DateTimeOffset neededUntil, CancellationToken cancellationToken)
    {
        await delegationKeyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (delegationKey is null || delegationKey.SignedExpiresOn < neededUntil)
            {
                DateTimeOffset now = time.GetUtcNow();
                var response = await storage.Clients.BlobService
                    .GetUserDelegationKeyAsync(now.AddMinutes(-5), neededUntil.AddHours(1), cancellationToken)
                    .ConfigureAwait(false);
                delegationKey = response.Value;
            }

            return delegationKey;
        }
        finally
        {
            delegationKeyLock.Release();
        }
    }
}

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
            (JobStatusRecord? record, _) = await store.UpdateAsync(jobId, r => r.Start(time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
            SetState(span, record);
            return record?.State == JobState.Running;
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
        string jobId, IReadOnlyCollection<int> indices, CancellationToken cancellationToken = default) =>
        RecordImagesAsync(jobId, indices, known: null, cancellationToken);

    /// <summary>
    /// <see cref="RecordImagesAsync(string, IReadOnlyCollection{int}, CancellationToken)"/> for a writer that records
    /// images of the same job again and again (a worker, as its images are stored): <paramref name="known"/> keeps the
    /// status as this writer's last update left it, and the next update writes over that directly, reading the status
    /// only when another writer changed it meanwhile. Give each job its own <see cref="KnownJobStatus"/>.
    /// </summary>
    public Task<ImageRecordResult> RecordImagesAsync(
        string jobId, IReadOnlyCollection<int> indices, KnownJobStatus? known, CancellationToken cancellationToken = default)
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
            ImageRecordResult result = await RecordImagesUntracedAsync(jobId, indices, known, cancellationToken).ConfigureAwait(false);
            span?.SetTag(TelemetryAttributes.Outcome, PipelineTelemetry.Lower(result.Outcome))
                .SetTag(TelemetryAttributes.JobState, PipelineTelemetry.Lower(result.State))
                .SetTag(TelemetryAttributes.DoneImages, result.DoneImages)
                .SetTag(TelemetryAttributes.TotalImages, result.TotalImages);
            return result;
        });
    }

    private async Task<ImageRecordResult> RecordImagesUntracedAsync(
        string jobId, IReadOnlyCollection<int> indices, KnownJobStatus? known, CancellationToken cancellationToken)
    {
        var outcome = ImageRecordOutcome.Recorded;
        int added = 0;
        JobStatusRecord? last = known?.Take(jobId);
        (JobStatusRecord? record, bool changed) = await store.UpdateAsync(jobId, r =>
        {
            (outcome, added) = r.RecordImages(indices, time.GetUtcNow());
            return outcome != ImageRecordOutcome.AlreadyRecorded;
        }, cancellationToken, last).ConfigureAwait(false);
        known?.Keep(record);

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

        return new ImageRecordResult(outcome, record.State, record.DoneImages, record.TotalImages);
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
            (JobStatusRecord? record, bool changed) = await store.UpdateAsync(
                jobId, r => r.Finish(JobState.Failed, time.GetUtcNow(), reason), cancellationToken).ConfigureAwait(false);
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
            || record.State.IsTerminal()
            || (record.Deadline is DateTimeOffset deadline && deadline <= time.GetUtcNow());
    }

    /// <summary>Tags <paramref name="span"/> with the job's state after an update (none: the job is unknown).</summary>
    internal static void SetState(Activity? span, JobStatusRecord? record) =>
        span?.SetTag(TelemetryAttributes.JobState, record is null ? "unknown" : PipelineTelemetry.Lower(record.State));
}

/// <summary>
/// A job's status as one writer's last update left it, held between that writer's updates of the job
/// (<see cref="JobProgress.RecordImagesAsync(string, IReadOnlyCollection{int}, KnownJobStatus?, CancellationToken)"/>)
/// so that the next one need not read it first. Opaque and thread-safe: an update takes the record it holds, so one that
/// runs beside it reads the status as it would without this.
/// </summary>
public sealed class KnownJobStatus
{
    private JobStatusRecord? record;

    // The record held for jobId, if any, for an update to change in place; nothing is held meanwhile.
    internal JobStatusRecord? Take(string jobId)
    {
        JobStatusRecord? taken = Interlocked.Exchange(ref record, null);
        return taken?.JobId == jobId ? taken : null;
    }

    // The record as an update wrote or read it (null: the job is unknown).
    internal void Keep(JobStatusRecord? updated) => Volatile.Write(ref record, updated);
}

/// <summary>
/// The status entity of one job in the jobs table (partition key: the job id; row key: <see cref="JobRowKey"/>), and every
/// transition of its state: a new record is <see cref="Queued"/> or <see cref="Rejected"/>; then <see cref="Start"/>
/// (running), <see cref="RecordImages"/> (running, and completed with the last image) and <see cref="Finish"/> (failed,
/// cancelled). Every change goes through <see cref="JobStatusStore"/> with optimistic concurrency, so a transition may
/// run more than once and depends on the record only. The completed image indices are a bitmap (bit i of byte i/8, least
/// significant first: 32 bytes for 256 images), so a redelivered image is never counted twice. The submitted message lies
/// beside it, in a <see cref="JobMessageRecord"/> of the same partition, so that the many progress updates rewrite a small
/// entity.
/// </summary>
internal sealed class JobStatusRecord() : LifecycleRecord<JobState>(JobRowKey, JobState.Queued)
{
    public const string JobRowKey = "job";

    public string? Model { get; set; }
    public string? ModelVersion { get; set; }
    public int? Steps { get; set; }
    public double? CfgScale { get; set; }
    public long? Seed { get; set; }
    public JobPriority? Priority { get; set; }
    public DateTimeOffset? Deadline { get; set; }
    public string? CallbackUrl { get; set; }
    public int TotalImages { get; set; }
    public int DoneImages { get; set; }
    public byte[]? CompletedBitmap { get; set; }
    public string? Error { get; set; }

    // Idempotency: what was submitted under this id, and how far intake got with enqueueing its work.
    public string ContentHash { get; set; } = "";
    public int WorkItemCount { get; set; }
    public int WorkItemsEnqueued { get; set; }
    public bool WorkEnqueued { get; set; }

    [IgnoreDataMember]
    public string JobId => PartitionKey;

    /// <summary>The record of an accepted job, split into <paramref name="workItems"/> work items, its model resolved to <paramref name="modelVersion"/>.</summary>
    public static JobStatusRecord Queued(GenerationJob job, string contentHash, string modelVersion, int workItems) => new()
    {
        PartitionKey = job.Id,
        ContentHash = contentHash,
        State = JobState.Queued,
        Model = job.Model.Name,
        ModelVersion = modelVersion,
        Steps = job.Steps,
        CfgScale = job.CfgScale,
        Seed = job.Seed,
        Priority = job.Priority,
        Deadline = job.Deadline,
        CallbackUrl = job.CallbackUrl?.AbsoluteUri,
        TotalImages = job.ImageCount,
        CompletedBitmap = NewBitmap(job.ImageCount),
        WorkItemCount = workItems,
    };

    /// <summary>The record of a rejected submission under <paramref name="jobId"/>, finished at <paramref name="now"/>.</summary>
    public static JobStatusRecord Rejected(string jobId, string contentHash, IReadOnlyList<string> reasons, DateTimeOffset now) => new()
    {
        PartitionKey = jobId,
        ContentHash = contentHash,
        State = JobState.Rejected,
        Reasons = reasons,
        FinishedAt = now,
    };

    /// <summary>Queued to running; false (nothing changed) in any other state.</summary>
    public bool Start(DateTimeOffset now)
    {
        if (State != JobState.Queued)
        {
            return false;
        }

        State = JobState.Running;
        StartedAt = now;
        return true;
    }

    /// <summary>
    /// Counts the images <paramref name="indices"/> as stored (each index once). A queued job becomes running, and a running
    /// job whose every image is counted now becomes completed; a finished job keeps its state. Returns what happened and how
    /// many images were new (<see cref="ImageRecordOutcome.AlreadyRecorded"/>: none, and nothing changed).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An index is not an image index of the job.</exception>
    public (ImageRecordOutcome Outcome, int Added) RecordImages(IReadOnlyCollection<int> indices, DateTimeOffset now)
    {
        int outside = indices.FirstOrDefault(index => index >= TotalImages, -1);
        if (outside >= 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(indices), outside, $"Job {JobId} has {TotalImages} images (indices 0 to {TotalImages - 1}).");
        }

        if (indices.All(HasImage))
        {
            return (ImageRecordOutcome.AlreadyRecorded, 0);
        }

        CompletedBitmap ??= NewBitmap(TotalImages);
        foreach (int index in indices)
        {
            CompletedBitmap[index / 8] |= (byte)(1 << (index % 8));
        }

        int before = DoneImages;
        DoneImages = CompletedBitmap.Sum(b => BitOperations.PopCount(b));
        Start(now);
        if (DoneImages == TotalImages && State == JobState.Running)
        {
            State = JobState.Completed;
            FinishedAt = now;
            return (ImageRecordOutcome.CompletedJob, DoneImages - before);
        }

        return (ImageRecordOutcome.Recorded, DoneImages - before);
    }

    /// <summary>
    /// Finishes an unfinished job in <paramref name="state"/> (failed, with <paramref name="error"/> cut to 4,000 characters,
    /// or cancelled); false (nothing changed) when it has finished already.
    /// </summary>
    public bool Finish(JobState state, DateTimeOffset now, string? error = null)
    {
        if (State.IsTerminal())
        {
            return false;
        }

        State = state;
        if (error is not null)
        {
            Error = error.Length <= 4000 ? error : error[..4000];
        }

        FinishedAt = now;
        return true;
    }

    /// <summary>The indices of the images counted as stored, in order.</summary>
    public IEnumerable<int> CompletedIndices() => Enumerable.Range(0, TotalImages).Where(HasImage);

    private bool HasImage(int index) =>
        CompletedBitmap is { } bitmap && index / 8 < bitmap.Length && (bitmap[index / 8] & (1 << (index % 8))) != 0;

    private static byte[] NewBitmap(int totalImages) => new byte[(totalImages + 7) / 8];
}

/// <summary>The message a job was submitted with (row key <see cref="MessageRowKey"/> in the job's partition), written once.</summary>
internal sealed class JobMessageRecord() : TableRecord(MessageRowKey)
{
    public const string MessageRowKey = "message";

    public string? MessageId { get; set; }
    public byte[]? Message { get; set; }
    public int MessageBytes { get; set; }
    public bool MessageTruncated { get; set; }
    public bool MessageWasBase64 { get; set; }
}

/// <summary>
/// A rejected record, and its message, that a later submission under the same id replaces: it is kept in the job's
/// partition under <see cref="RowKeyOf"/>(its content hash) (the message with <see cref="MessageSuffix"/>), so that a
/// redelivery of the rejected message gets its own answer again and does not take the id back.
/// </summary>
internal sealed record SupersededRejection(JobStatusRecord Record, JobMessageRecord? Message)
{
    public const string MessageSuffix = "-message";

    public static string RowKeyOf(string contentHash) => "rejected-" + contentHash;

    /// <summary>Copies of the record and the message under their kept row keys, to upsert.</summary>
    public IEnumerable<TableTransactionAction> ToKeptEntities()
    {
        string rowKey = RowKeyOf(Record.ContentHash);
        yield return new TableTransactionAction(TableTransactionActionType.UpsertReplace, Record.CopyAs(rowKey));
        if (Message is not null)
        {
            yield return new TableTransactionAction(TableTransactionActionType.UpsertReplace, Message.CopyAs(rowKey + MessageSuffix));
        }
    }
}

/// <summary>
/// Reads and changes job status records. Changes are read-modify-write with the entity's ETag: when
/// another writer got in between (HTTP 412), the change is applied again to the fresh record.
/// </summary>
internal sealed class JobStatusStore
{
    private readonly TableClient table;
    private readonly TimeProvider time;
    private readonly int maxAttempts;

    public JobStatusStore(PipelineStorage storage, TimeProvider time, int maxAttempts)
    {
        table = storage.JobsTable;
        this.time = time;
        this.maxAttempts = maxAttempts;
    }

    public Task<JobStatusRecord?> GetAsync(string jobId, CancellationToken cancellationToken) =>
        OptimisticTableUpdate.GetAsync<JobStatusRecord>(table, jobId, JobStatusRecord.JobRowKey, cancellationToken);

    public Task<JobMessageRecord?> GetMessageAsync(string jobId, CancellationToken cancellationToken) =>
        OptimisticTableUpdate.GetAsync<JobMessageRecord>(table, jobId, JobMessageRecord.MessageRowKey, cancellationToken);

    /// <summary>A rejection that a later submission under its id replaced, kept in the job's partition (see <see cref="SupersededRejection"/>).</summary>
    public Task<JobStatusRecord?> GetSupersededRejectionAsync(string jobId, string contentHash, CancellationToken cancellationToken) =>
        OptimisticTableUpdate.GetAsync<JobStatusRecord>(table, jobId, SupersededRejection.RowKeyOf(contentHash), cancellationToken);

    /// <summary>
    /// Adds a new record and its message in one transaction; false when the job id is taken already. With
    /// <paramref name="replacing"/> (the job's rejected record, as read), replaces that record and its message instead,
    /// and keeps both under <see cref="SupersededRejection.RowKeyOf"/> in the same transaction; false when the record
    /// changed since it was read.
    /// </summary>
    public async Task<bool> TryAddAsync(
        JobStatusRecord record, JobMessageRecord message, SupersededRejection? replacing, CancellationToken cancellationToken)
    {
        record.CreatedAt = record.UpdatedAt = time.GetUtcNow();
        message.PartitionKey = record.PartitionKey;
        List<TableTransactionAction> actions = replacing is null
            ? [new(TableTransactionActionType.Add, record), new(TableTransactionActionType.Add, message)]
            : [new(TableTransactionActionType.UpdateReplace, record, replacing.Record.ETag),
               new(TableTransactionActionType.UpsertReplace, message), .. replacing.ToKeptEntities()];
        try
        {
            Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            record.ETag = response.Value[0].Headers.ETag ?? default;
            return true;
        }
        catch (TableTransactionFailedException exception)
            when (exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }

    /// <summary>Sets a few properties without reading (and without disturbing the others).</summary>
    public async Task MergeAsync(string jobId, IDictionary<string, object?> properties, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(jobId, JobStatusRecord.JobRowKey);
        foreach ((string name, object? value) in properties)
        {
            entity[name] = value;
        }

        entity[nameof(JobStatusRecord.UpdatedAt)] = time.GetUtcNow();
        await table.UpdateEntityAsync(entity, ETag.All, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Applies <paramref name="change"/> (which returns false to leave the record as it is) and writes the
    /// record back if its ETag still matches, retrying on the fresh record otherwise (see
    /// <see cref="OptimisticTableUpdate"/>; <paramref name="known"/>: the record as the caller last read or wrote it, to
    /// write over without reading first). Returns the final record (null: no such job) and whether this call changed it.
    /// </summary>
    public Task<(JobStatusRecord? Record, bool Changed)> UpdateAsync(
        string jobId, Func<JobStatusRecord, bool> change, CancellationToken cancellationToken, JobStatusRecord? known = null) =>
        OptimisticTableUpdate.UpdateAsync(
            table, jobId, JobStatusRecord.JobRowKey, change, record => record.UpdatedAt = time.GetUtcNow(), maxAttempts,
            $"status of job {jobId}", cancellationToken, known);
}
