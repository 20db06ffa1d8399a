using System.Net;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Microsoft.Extensions.Logging;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// The blob lease that makes a trainer the only one working on a run: taken on <c>{model}/{runId}/.lease</c> in the
/// checkpoints container, renewed in the background, released on dispose. When a renewal fails (the lease expired
/// and someone else took it), <see cref="Lost"/> is cancelled so that training stops.
/// </summary>
internal sealed class RunLease : IAsyncDisposable
{
    private readonly BlobLeaseClient lease;
    private readonly CancellationTokenSource lost = new();
    private readonly PeriodicRenewal renewal;
    private readonly ILogger logger;

    private RunLease(BlobLeaseClient lease, TimeSpan duration, ILogger logger)
    {
        this.lease = lease;
        this.logger = logger;
        renewal = new PeriodicRenewal(duration / 3, token => lease.RenewAsync(cancellationToken: token), exception =>
        {
            if (exception is RequestFailedException { Status: (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed })
            {
                logger.LogError(exception, "Lost the lease on {Blob}: another trainer may hold the run now; stopping.", lease.Uri);
                lost.Cancel();
                return false;
            }

            logger.LogWarning(exception, "Could not renew the lease on {Blob}; trying again.", lease.Uri);
            return true;
        });
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
        await renewal.DisposeAsync().ConfigureAwait(false);
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
}
