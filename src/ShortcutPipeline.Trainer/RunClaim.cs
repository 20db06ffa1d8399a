using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Queues.Models;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Core.Training;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// Reads a training request and claims its run, the first part of <see cref="TrainingRunner"/>: holds the queue message
/// (a <see cref="QueueMessageLease"/>, its long visibility renewed every third of it), reads the request (a bad one fails
/// its run under a derived id), takes the run's blob lease (<see cref="RunLease"/>; held by another trainer: the message is
/// released to show again after the busy delay), finds the run's record (recording it for a request put on the queue
/// directly), and leaves alone a run that finished or was started too often. What is left to train comes back as a
/// <see cref="RunClaim"/> that holds the message and the lease.
/// </summary>
internal sealed partial class RunClaimer(
    PipelineStorage storage, TrainingRunStore runs, TrainingDatasets datasets, TrainerHostOptions options, TrainingRequestReader reader,
    TimeProvider time, ILogger logger)
{
    /// <summary>Claims the run of <paramref name="message"/>; the claim's <see cref="RunClaim.Outcome"/> is set when there is nothing to train.</summary>
    public async Task<RunClaim> ClaimAsync(QueueMessage message, Activity? span, CancellationToken cancellationToken)
    {
        // The message stays invisible while its run trains: renewed every third of the (long) visibility timeout.
        var claim = new RunClaim(QueueMessageLease.Hold(
            storage.TrainingQueue, message, options.VisibilityTimeout, options.VisibilityTimeout / 3, time, logger));
        try
        {
            await ClaimAsync(claim, span, cancellationToken).ConfigureAwait(false);
            return claim;
        }
        catch
        {
            await claim.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task ClaimAsync(RunClaim claim, Activity? span, CancellationToken cancellationToken)
    {
        QueueMessageLease hold = claim.Message;
        string text = hold.Text;
        TrainingRequestReadResult read = reader.Read(text, "q-" + NotRunIdCharacter().Replace(hold.MessageId, "-"));
        span?.SetTag(TelemetryAttributes.RunId, read.RunId).SetTag(TelemetryAttributes.Model, read.Model);
        if (read.Request is not { } request)
        {
            await FailAsync(read.RunId, read.Model, text, read.ContentHash, read.Reasons, cancellationToken).ConfigureAwait(false);
            await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
            claim.Outcome = TrainingMessageOutcome.Failed;
            return;
        }

        span?.SetTag(TelemetryAttributes.Preset, request.Preset).SetTag(TelemetryAttributes.Steps, request.Steps);
        BlobClient leaseBlob = storage.CheckpointsContainer.GetBlobClient(TrainingBlobNames.File(request.Model, request.RunId, TrainingBlobNames.LeaseFileName));
        claim.Lease = await RunLease.TryAcquireAsync(leaseBlob, options.LeaseDuration, logger, cancellationToken).ConfigureAwait(false);
        if (claim.Lease is null)
        {
            logger.LogInformation("Run {RunId} is leased by another trainer; its request shows again in {Delay}.", request.RunId, options.BusyRetryDelay);
            await hold.ReleaseAsync(options.BusyRetryDelay, cancellationToken).ConfigureAwait(false);
            claim.Outcome = TrainingMessageOutcome.Busy;
            return;
        }

        TrainingRun? run = await RecordedRunAsync(request, read, text, cancellationToken).ConfigureAwait(false);
        if (run is null || run.State.IsTerminal())
        {
            logger.LogInformation("Run {RunId} is {State} already; deleting its request.", request.RunId, run?.State.ToString() ?? "rejected");
            await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
            claim.Outcome = run is null ? TrainingMessageOutcome.Failed : TrainingMessageOutcome.AlreadyFinished;
            return;
        }

        if (run.Attempts >= options.MaxAttempts)
        {
            await runs.MarkFailedAsync(run.RunId, [string.Create(CultureInfo.InvariantCulture,
                $"The run was started {run.Attempts} times without finishing (the limit is {options.MaxAttempts}); the last error: {run.LastError ?? "none recorded (was the trainer killed?)"}")],
                cancellationToken).ConfigureAwait(false);
            await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
            claim.Outcome = TrainingMessageOutcome.Failed;
            return;
        }

        claim.Request = request;
        claim.Run = run;
    }

    // The run of a valid request: as the launcher recorded it, or recorded now for a request put on the queue directly.
    // Null when the run id is another request's (then the request is recorded as rejected under a derived id).
    private async Task<TrainingRun?> RecordedRunAsync(TrainingRequest request, TrainingRequestReadResult read, string text, CancellationToken cancellationToken)
    {
        TrainingRun? run = await runs.GetAsync(request.RunId, cancellationToken).ConfigureAwait(false);
        if (run is null)
        {
            string fingerprint = await datasets.FingerprintAsync(request.Dataset, cancellationToken).ConfigureAwait(false);
            (run, _) = await runs.CreateAsync(request, TrainingTrigger.Queue, fingerprint, cancellationToken).ConfigureAwait(false);
        }

        if (run.Request is { } recorded && recorded.ConfigurationFingerprint() == request.ConfigurationFingerprint())
        {
            return run;
        }

        await FailAsync(TrainingRequestReader.RejectedRunId(read.ContentHash), request.Model, text, read.ContentHash, [TrainingLauncher.TakenRunIdReason(run)], cancellationToken)
            .ConfigureAwait(false);
        return null;
    }

    private async Task FailAsync(
        string runId, string? model, string text, string contentHash, IReadOnlyList<string> reasons, CancellationToken cancellationToken)
    {
        logger.LogWarning("Training request {RunId} is not valid: {Reasons}", runId, string.Join(" ", reasons));
        (TrainingRun run, bool created) = await runs.RecordRejectedAsync(runId, model, text, contentHash, reasons, TrainingTrigger.Queue, cancellationToken)
            .ConfigureAwait(false);
        if (!created && !run.State.IsTerminal())
        {
            await runs.MarkFailedAsync(runId, reasons, cancellationToken).ConfigureAwait(false);
        }
    }

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex NotRunIdCharacter();
}

/// <summary>
/// A training request this trainer holds: its queue message and, once taken, its run's lease. Either <see cref="Outcome"/>
/// is set (nothing to train; the message was deleted or released already) or <see cref="Request"/>, <see cref="Run"/> and
/// <see cref="Lease"/> are. Disposing lets go of the lease, then of the message (one neither deleted nor released shows
/// again when its visibility lapses).
/// </summary>
internal sealed class RunClaim(QueueMessageLease message) : IAsyncDisposable
{
    /// <summary>The request's queue message.</summary>
    public QueueMessageLease Message { get; } = message;

    /// <summary>What became of the request when there is nothing to train; null when there is.</summary>
    public TrainingMessageOutcome? Outcome { get; set; }

    /// <summary>The request to train.</summary>
    public TrainingRequest? Request { get; set; }

    /// <summary>Its run, as recorded.</summary>
    public TrainingRun? Run { get; set; }

    /// <summary>The run's lease.</summary>
    public RunLease? Lease { get; set; }

    public async ValueTask DisposeAsync()
    {
        if (Lease is not null)
        {
            await Lease.DisposeAsync().ConfigureAwait(false);
        }

        await Message.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// The blob lease that makes a trainer the only one working on a run: taken on <c>{model}/{runId}/.lease</c> in the
/// checkpoints container, renewed in the background every third of its duration, released on dispose. When a renewal
/// finds it gone (the lease expired and someone else took it: 409 or 412), <see cref="Lost"/> is cancelled so that
/// training stops; any other failed renewal is logged and tried again at the next one.
/// </summary>
internal sealed class RunLease : IAsyncDisposable
{
    private readonly BlobLeaseClient lease;
    private readonly TimeSpan renewEvery;
    private readonly CancellationTokenSource lost = new();
    private readonly CancellationTokenSource stop = new();
    private readonly Task renewal;
    private readonly ILogger logger;

    private RunLease(BlobLeaseClient lease, TimeSpan duration, ILogger logger)
    {
        this.lease = lease;
        this.logger = logger;
        renewEvery = duration / 3;
        renewal = Task.Run(() => RenewUntilStoppedAsync(stop.Token));
    }

    /// <summary>Cancelled when the lease is lost.</summary>
    public CancellationToken Lost => lost.Token;

    /// <summary>Takes the lease on <paramref name="blob"/> (creating the empty blob first); null when another trainer holds it.</summary>
    public static async Task<RunLease?> TryAcquireAsync(BlobClient blob, TimeSpan duration, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await blob.UploadAsync(BinaryData.Empty, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } },
                cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            // It exists already (and may be leased).
        }

        BlobLeaseClient lease = blob.GetBlobLeaseClient();
        try
        {
            await lease.AcquireAsync(duration, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.Conflict)
        {
            return null;
        }

        return new RunLease(lease, duration, logger);
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        await renewal.ConfigureAwait(false);
        stop.Dispose();
        try
        {
            await lease.ReleaseAsync().ConfigureAwait(false);
        }
        catch (RequestFailedException exception)
        {
            logger.LogWarning(exception, "Could not release the lease on {Blob}; it expires by itself.", lease.Uri);
        }

        lost.Dispose();
    }

    private async Task RenewUntilStoppedAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(renewEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await lease.RenewAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (RequestFailedException exception) when (exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
                {
                    logger.LogError(exception, "Lost the lease on {Blob}: another trainer may hold the run now; stopping.", lease.Uri);
                    await lost.CancelAsync().ConfigureAwait(false);
                    return;
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    logger.LogWarning(exception, "Could not renew the lease on {Blob}; trying again.", lease.Uri);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }
}
