using System.Diagnostics;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>What <see cref="JobIntake.SubmitAsync(string?, string?, CancellationToken)"/> did with a message.</summary>
public enum IntakeOutcome
{
    /// <summary>A new job: its status record exists and its work items are on the work queue.</summary>
    Accepted,

    /// <summary>The same job (same id, same content) was submitted before: no new work was created.</summary>
    Duplicate,

    /// <summary>The message is not a valid job (or reuses another job's id); the status record holds the reasons and the message.</summary>
    Rejected,
}

/// <summary>The outcome of one submission.</summary>
public sealed record IntakeResult
{
    /// <summary>What happened.</summary>
    public required IntakeOutcome Outcome { get; init; }

    /// <summary>The id of the job's status record (also for rejections: look the reasons up under it).</summary>
    public required string JobId { get; init; }

    /// <summary>The job's state after the submission.</summary>
    public required JobState State { get; init; }

    /// <summary>Why the message was rejected (empty otherwise).</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];

    /// <summary>For a duplicate: true when this delivery finished enqueueing work that an earlier, interrupted one had begun.</summary>
    public bool FinishedEnqueueing { get; init; }
}

/// <summary>
/// Turns a raw job message (plain JSON text or base64 of it, from the jobs queue or the HTTP endpoint) into
/// a status record and work items, exactly once per job id:
/// <list type="bullet">
/// <item>an invalid message is recorded as <see cref="JobState.Rejected"/> with every reason and the message
/// itself (truncated past <see cref="GenerationJobLimits.MaxStoredMessageBytes"/>), under its id, or under a
/// derived id when it has no usable one; it never throws for bad input;</item>
/// <item>a valid one gets a <see cref="JobState.Queued"/> record (an unpinned model resolved to the version
/// that is latest now) and is split into <see cref="WorkItem"/>s on the work queue;</item>
/// <item>a redelivery of a job finds its record and creates no new work, except that it finishes
/// enqueueing when an earlier attempt stopped half-way (the record counts the work items enqueued);</item>
/// <item>another job under a job's id is rejected, under a derived id, with a reason that says so;</item>
/// <item>a rejection does not hold its id: the next submission under it (fixed, or bad in another way) replaces the
/// rejected record, which is kept beside it (<see cref="SupersededRejection"/>), so that a redelivery of the rejected
/// message is rejected again with its own reasons and does not take the id back.</item>
/// </list>
/// "The same job" means the same canonical JSON (keys sorted, strings and numbers written one way: see
/// <see cref="JobReadResult.ContentHash"/>), not the same text.
/// Storage failures throw, so that the Functions host retries the message (and finally moves it to the poison queue).
/// </summary>
public sealed class JobIntake
{
    private readonly PipelineStorage storage;
    private readonly ModelRegistry registry;
    private readonly GenerationJobLimits limits;
    private readonly GenerationJobReader reader;
    private readonly JobStatusStore store;
    private readonly CallbackTargetGuard callbackGuard;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    /// <summary>An intake over <paramref name="statusService"/>'s records, resolving models with <paramref name="registry"/>.</summary>
    public JobIntake(
        PipelineStorage storage, ModelRegistry registry, JobStatusService statusService, GenerationJobLimits? limits = null,
        TimeProvider? time = null, ILogger<JobIntake>? logger = null)
    {
        this.storage = storage ?? throw new ArgumentNullException(nameof(storage));
        this.registry = registry ?? throw new ArgumentNullException(nameof(registry));
        ArgumentNullException.ThrowIfNull(statusService);
        this.limits = limits ?? new GenerationJobLimits();
        reader = new GenerationJobReader(this.limits);
        store = statusService.Store;
        callbackGuard = statusService.Callbacks.Guard;
        this.time = time ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>
    /// Takes one job message. <paramref name="messageId"/> (the queue message id, or a request id) names jobs
    /// that carry no id of their own, so that a redelivery of the same message maps to the same job.
    /// </summary>
    /// <remarks>Traced as span <see cref="SpanNames.SubmitJob"/> with the job id, and counted in <see cref="JobMetrics"/>.</remarks>
    public Task<IntakeResult> SubmitAsync(string? message, string? messageId = null, CancellationToken cancellationToken = default)
    {
        message ??= "";
        return SubmitAsync(reader.Read(message, messageId), Encoding.UTF8.GetBytes(message), messageId, cancellationToken);
    }

    /// <summary>
    /// Takes one job message given as its bytes (an HTTP request body): as <see cref="SubmitAsync(string?, string?, CancellationToken)"/>,
    /// except that bytes that are not UTF-8 are a rejection reason, and the bytes are kept as they came.
    /// </summary>
    public Task<IntakeResult> SubmitAsync(ReadOnlyMemory<byte> message, string? messageId = null, CancellationToken cancellationToken = default) =>
        SubmitAsync(reader.Read(message.Span, messageId), message.ToArray(), messageId, cancellationToken);

    private Task<IntakeResult> SubmitAsync(JobReadResult read, byte[] message, string? messageId, CancellationToken cancellationToken) =>
        PipelineTelemetry.TraceAsync(SpanNames.SubmitJob, null, async span =>
        {
            span?.SetTag(TelemetryAttributes.JobId, read.JobId);
            IntakeResult result = await DecideAsync(new Submission(read, message, messageId) { Span = span }, cancellationToken).ConfigureAwait(false);
            span?.SetTag(TelemetryAttributes.JobId, result.JobId)
                .SetTag(TelemetryAttributes.Outcome, PipelineTelemetry.Lower(result.Outcome))
                .SetTag(TelemetryAttributes.JobState, PipelineTelemetry.Lower(result.State));
            JobMetrics.RecordSubmission(result.Outcome);
            return result;
        });

    // What to do with a checked submission, given the record under its id now. Called again when another writer
    // changed that record in between.
    private async Task<IntakeResult> DecideAsync(Submission submission, CancellationToken cancellationToken)
    {
        JobStatusRecord? existing = await store.GetAsync(submission.Read.JobId, cancellationToken).ConfigureAwait(false);
        return existing is null
            ? await CreateAsync(submission, replacing: null, cancellationToken).ConfigureAwait(false)
            : await ResubmitAsync(submission, existing, cancellationToken).ConfigureAwait(false);
    }

    // A new record under the submission's id: replacing (and keeping) the rejected one there, when given.
    private async Task<IntakeResult> CreateAsync(Submission submission, SupersededRejection? replacing, CancellationToken cancellationToken)
    {
        JobReadResult read = submission.Read;
        // Only a new record needs the checks against storage, the network and the clock (once per submission).
        submission.Checks ??= CheckAgainstStorageNetworkAndClockAsync(read, cancellationToken);
        ModelManifest? manifest = await submission.Checks.ConfigureAwait(false);
        if (read.ReasonList.Count > 0)
        {
            return await RejectAsync(read.JobId, read.Reasons, submission, replacing, cancellationToken).ConfigureAwait(false);
        }

        GenerationJob job = read.Job!;
        IReadOnlyList<WorkItem> items = WorkItem.Split(job, manifest!.Version, limits.MaxImagesPerWorkItem);
        var record = JobStatusRecord.Queued(job, read.ContentHash, manifest.Version, items.Count);
        if (!await store.TryAddAsync(record, NewMessageRecord(submission), replacing, cancellationToken).ConfigureAwait(false))
        {
            // Another delivery wrote the record in between: decide again on what it wrote.
            return await DecideAsync(submission, cancellationToken).ConfigureAwait(false);
        }

        await EnqueueWorkAsync(job.Id, items, alreadyEnqueued: 0, cancellationToken).ConfigureAwait(false);
        submission.Span?.SetTag(TelemetryAttributes.Model, job.Model.Name).SetTag(TelemetryAttributes.ModelVersion, record.ModelVersion)
            .SetTag(TelemetryAttributes.Images, job.ImageCount).SetTag(TelemetryAttributes.Steps, job.Steps).SetTag(TelemetryAttributes.WorkItems, items.Count);
        JobMetrics.RecordAcceptedImages(job.ImageCount);
        logger.LogInformation(
            "Accepted job {JobId}{Replacing}: {Images} images of {Model} {Version} in {Steps} steps, {WorkItems} work items.",
            job.Id, replacing is null ? "" : " (replacing its rejected submission)", job.ImageCount, job.Model.Name, record.ModelVersion,
            job.Steps, items.Count);
        return new IntakeResult { Outcome = IntakeOutcome.Accepted, JobId = job.Id, State = JobState.Queued };
    }

    private async Task<IntakeResult> ResubmitAsync(Submission submission, JobStatusRecord existing, CancellationToken cancellationToken)
    {
        JobReadResult read = submission.Read;
        if (!string.Equals(existing.ContentHash, read.ContentHash, StringComparison.Ordinal))
        {
            return await ResubmitOtherContentAsync(submission, existing, cancellationToken).ConfigureAwait(false);
        }

        if (existing.State == JobState.Rejected)
        {
            return Rejected(existing.JobId, existing.Reasons);
        }

        bool finish = !existing.WorkEnqueued && !existing.State.IsTerminal() && read.Job is not null && existing.ModelVersion is not null;
        if (finish)
        {
            logger.LogWarning(
                "Job {JobId} was delivered again with {Enqueued} of {Total} work items enqueued; enqueueing the rest.",
                existing.JobId, existing.WorkItemsEnqueued, existing.WorkItemCount);
            IReadOnlyList<WorkItem> items = WorkItem.Split(read.Job!, existing.ModelVersion!, limits.MaxImagesPerWorkItem);
            await EnqueueWorkAsync(read.Job!.Id, items, existing.WorkItemsEnqueued, cancellationToken).ConfigureAwait(false);
        }

        return new IntakeResult
        {
            Outcome = IntakeOutcome.Duplicate, JobId = existing.JobId, State = existing.State, FinishedEnqueueing = finish,
        };
    }

    // Other content under a used id: a rejection does not hold its id (the new submission replaces it, and it is kept
    // beside the new record, so that its own redelivery is answered as before); a job does (a conflict).
    private async Task<IntakeResult> ResubmitOtherContentAsync(Submission submission, JobStatusRecord existing, CancellationToken cancellationToken)
    {
        JobReadResult read = submission.Read;
        JobStatusRecord? earlier = await store.GetSupersededRejectionAsync(read.JobId, read.ContentHash, cancellationToken).ConfigureAwait(false);
        if (earlier is not null)
        {
            return Rejected(read.JobId, earlier.Reasons);
        }

        if (existing.State == JobState.Rejected)
        {
            JobMessageRecord? message = await store.GetMessageAsync(read.JobId, cancellationToken).ConfigureAwait(false);
            return await CreateAsync(submission, new SupersededRejection(existing, message), cancellationToken).ConfigureAwait(false);
        }

        var reasons = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture,
                $"$.id \"{read.JobId}\" is taken: a different job was submitted under it on {existing.CreatedAt:u} (it is {existing.State.ToString().ToLowerInvariant()}). Submit this job with a new id, or without one."),
        };
        reasons.AddRange(read.Reasons);
        string conflictId = GenerationJobReader.DeriveJobId(submission.MessageId, read.ContentHash);
        return await RejectConflictAsync(conflictId, reasons, submission, cancellationToken).ConfigureAwait(false);
    }

    // The submission's own rejection, under its id (replacing the rejected record there, when given).
    private async Task<IntakeResult> RejectAsync(
        string jobId, IReadOnlyList<string> reasons, Submission submission, SupersededRejection? replacing, CancellationToken cancellationToken)
    {
        if (await TryAddRejectionAsync(jobId, reasons, submission, replacing, cancellationToken).ConfigureAwait(false))
        {
            return Rejected(jobId, reasons);
        }

        // Another delivery wrote the record in between: decide again on what it wrote.
        return await DecideAsync(submission, cancellationToken).ConfigureAwait(false);
    }

    // A conflict's rejection, under a derived id: when that is taken, the same message was rejected so before.
    private async Task<IntakeResult> RejectConflictAsync(
        string conflictId, IReadOnlyList<string> reasons, Submission submission, CancellationToken cancellationToken)
    {
        if (await TryAddRejectionAsync(conflictId, reasons, submission, replacing: null, cancellationToken).ConfigureAwait(false))
        {
            return Rejected(conflictId, reasons);
        }

        JobStatusRecord? existing = await store.GetAsync(conflictId, cancellationToken).ConfigureAwait(false);
        if (existing is null || !string.Equals(existing.ContentHash, submission.Read.ContentHash, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Could not record the rejection of job {conflictId}: its id is taken by another record.");
        }

        return Rejected(conflictId, existing.Reasons);
    }

    private async Task<bool> TryAddRejectionAsync(
        string jobId, IReadOnlyList<string> reasons, Submission submission, SupersededRejection? replacing, CancellationToken cancellationToken)
    {
        var record = JobStatusRecord.Rejected(jobId, submission.Read.ContentHash, reasons, time.GetUtcNow());
        if (!await store.TryAddAsync(record, NewMessageRecord(submission), replacing, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        logger.LogInformation("Rejected job {JobId}: {Reasons}", jobId, string.Join(" | ", reasons));
        return true;
    }

    private static IntakeResult Rejected(string jobId, IReadOnlyList<string> reasons) =>
        new() { Outcome = IntakeOutcome.Rejected, JobId = jobId, State = JobState.Rejected, Reasons = reasons };

    // The checks that need storage, the network (the callback's host) or the clock; adds their reasons to the read
    // result's. Returns the resolved model. A resolver failure that may pass throws (the message is retried).
    private async Task<ModelManifest?> CheckAgainstStorageNetworkAndClockAsync(JobReadResult read, CancellationToken cancellationToken)
    {
        ModelManifest? manifest = null;
        if (read.Model is { } model)
        {
            manifest = await registry.ResolveAsync(model.Name, model.Version, cancellationToken).ConfigureAwait(false);
            string container = storage.Options.CheckpointsContainer;
            if (manifest is null)
            {
                // Resolving an unpinned model read latest.json already: only a pinned one needs it read for the reason.
                ModelManifestEntry? latest = model.Version is null
                    ? null
                    : await registry.GetLatestAsync(model.Name, cancellationToken).ConfigureAwait(false);
                read.ReasonList.Add(latest is null
                    ? $"$.model.name \"{model.Name}\" is not a registered model (there is no {container}/{ModelBlobNames.Latest(model.Name)})."
                    : $"$.model.version \"{model.Version}\" is not a version of model \"{model.Name}\" (there is no {container}/{ModelBlobNames.Version(model.Name, model.Version!)}; the latest version is \"{latest.Manifest.Version}\").");
            }
            else if (manifest.NumClasses is int classes)
            {
                foreach (LabelUse use in read.Labels.Where(use => use.Label >= classes))
                {
                    read.ReasonList.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{use.Path} is {use.Label}, but model \"{manifest.Model}\" version \"{manifest.Version}\" has {classes} classes (labels 0 to {classes - 1})."));
                }
            }
        }

        if (read.CallbackUrl is Uri callbackUrl)
        {
            CallbackTarget target = await callbackGuard.CheckAsync(callbackUrl, cancellationToken).ConfigureAwait(false);
            if (!target.Allowed)
            {
                read.ReasonList.Add($"$.callbackUrl {JobText.Quote(callbackUrl.OriginalString)} is refused: {target.Refusal}.");
            }
        }

        DateTimeOffset now = time.GetUtcNow();
        if (read.Deadline is DateTimeOffset deadline && deadline <= now)
        {
            read.ReasonList.Add(string.Create(CultureInfo.InvariantCulture,
                $"$.deadline {deadline:yyyy-MM-ddTHH:mm:ssZ} is not in the future (it is {now:yyyy-MM-ddTHH:mm:ssZ} now)."));
        }

        return manifest;
    }

    /// <summary>Sends <paramref name="items"/> (all of job <paramref name="jobId"/>'s work items) from <paramref name="alreadyEnqueued"/> on, counting each in the record.</summary>
    private async Task EnqueueWorkAsync(string jobId, IReadOnlyList<WorkItem> items, int alreadyEnqueued, CancellationToken cancellationToken)
    {
        for (int i = alreadyEnqueued; i < items.Count; i++)
        {
            await storage.WorkQueue.SendMessageAsync(items[i].ToJson(), cancellationToken).ConfigureAwait(false);
            await store.MergeAsync(jobId, new Dictionary<string, object?>
            {
                [nameof(JobStatusRecord.WorkItemsEnqueued)] = i + 1,
                [nameof(JobStatusRecord.WorkEnqueued)] = i + 1 == items.Count,
            }, cancellationToken).ConfigureAwait(false);
        }

        if (items.Count == alreadyEnqueued)
        {
            await store.MergeAsync(jobId, new Dictionary<string, object?> { [nameof(JobStatusRecord.WorkEnqueued)] = true }, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private JobMessageRecord NewMessageRecord(Submission submission)
    {
        byte[] bytes = submission.Message;
        string? messageId = submission.MessageId;
        bool truncated = bytes.Length > limits.MaxStoredMessageBytes;
        return new JobMessageRecord
        {
            MessageId = messageId is null ? null : JobText.Truncate(messageId),
            Message = truncated ? bytes[..limits.MaxStoredMessageBytes] : bytes,
            MessageBytes = bytes.Length,
            MessageTruncated = truncated,
            MessageWasBase64 = submission.Read.WasBase64,
        };
    }
}

/// <summary>One submission under way: what was read, the message as it came, and its checks once they ran (they add their reasons to <see cref="Read"/>).</summary>
internal sealed class Submission(JobReadResult read, byte[] message, string? messageId)
{
    public JobReadResult Read { get; } = read;

    public byte[] Message { get; } = message;

    public string? MessageId { get; } = messageId;

    /// <summary>The checks against storage, the network and the clock, with the model they resolved; null until they ran.</summary>
    public Task<ModelManifest?>? Checks { get; set; }

    /// <summary>The intake's span of this submission, when traced.</summary>
    public Activity? Span { get; init; }
}
