using System.Text;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Core.Jobs;

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
            (JobStatusRecord? record, bool changed) = await store.FinishUnlessTerminalAsync(
                jobId, JobState.Cancelled, time, alsoChange: null, cancellationToken).ConfigureAwait(false);
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
            images = CompletedImages.Indices(record.CompletedBitmap, record.TotalImages)
                .Select(index =>
                {
                    string blobName = ImageBlobNames.For(record.JobId, index);
                    return new JobImage(index, blobName, link(container.GetBlobClient(blobName)));
                })
                .ToList();
        }

        return new JobStatus
        {
            Id = record.JobId,
            State = record.JobState,
            Reasons = record.Reasons,
            Model = record.Model,
            ModelVersion = record.ModelVersion,
            Steps = record.Steps,
            CfgScale = record.CfgScale,
            Seed = record.Seed,
            Priority = record.JobPriority,
            Deadline = record.Deadline,
            TotalImages = record.TotalImages,
            DoneImages = record.DoneImages,
            Images = images,
            CreatedAt = record.CreatedAt,
            UpdatedAt = record.UpdatedAt,
            StartedAt = record.StartedAt,
            FinishedAt = record.FinishedAt,
            Error = record.Error,
        };
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
