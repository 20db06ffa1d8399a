using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Worker;

/// <summary>
/// Watches the jobs of a running batch: starts from the jobs found finished or unknown when the batch marked its
/// jobs running, reads each job's status every poll interval in the background, and remembers the jobs that no
/// longer want images (cancelled, failed, finished, past their deadline), so the sampler's per-step callback can
/// stop their rows without waiting on storage. (Rows past their deadline the callback stops itself.)
/// </summary>
internal sealed class JobWatch : IAsyncDisposable
{
    private readonly JobProgress progress;
    private readonly IReadOnlyList<string> jobIds;
    private readonly ConcurrentDictionary<string, bool> stopped = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource polling = new();
    private readonly ILogger logger;
    private Task poller = Task.CompletedTask;

    private JobWatch(JobProgress progress, IReadOnlyList<string> jobIds, ILogger logger)
    {
        this.progress = progress;
        this.jobIds = jobIds;
        this.logger = logger;
    }

    /// <summary>
    /// Starts watching <paramref name="jobIds"/>: the jobs in <paramref name="stoppedJobIds"/> (found finished or
    /// unknown when the batch started) stop at once; the others' states are read every <paramref name="interval"/>
    /// until disposed.
    /// </summary>
    public static JobWatch Start(
        JobProgress progress, IEnumerable<string> jobIds, IEnumerable<string> stoppedJobIds, TimeSpan interval, TimeProvider time,
        ILogger logger)
    {
        var watch = new JobWatch(progress, jobIds.Distinct(StringComparer.Ordinal).ToList(), logger);
        foreach (string id in stoppedJobIds.Distinct(StringComparer.Ordinal))
        {
            watch.Stop(id);
        }

        watch.poller = watch.PollAsync(interval, time, watch.polling.Token);
        return watch;
    }

    /// <summary>True when job <paramref name="jobId"/> no longer wants images.</summary>
    public bool IsStopped(string jobId) => stopped.ContainsKey(jobId);

    /// <summary>Stops polling.</summary>
    public async ValueTask DisposeAsync()
    {
        await polling.CancelAsync().ConfigureAwait(false);
        await poller.ConfigureAwait(false);
        polling.Dispose();
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(jobIds.Where(id => !IsStopped(id)).Select(async id =>
        {
            if (await progress.IsCancelledOrExpiredAsync(id, cancellationToken).ConfigureAwait(false))
            {
                Stop(id);
            }
        })).ConfigureAwait(false);
    }

    private void Stop(string jobId)
    {
        stopped[jobId] = true;
        logger.LogInformation("Job {JobId} no longer wants images: stopping its rows.", jobId);
    }

    private async Task PollAsync(TimeSpan interval, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
                try
                {
                    await RefreshAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    logger.LogWarning(exception, "Reading the states of the batch's jobs failed; trying again.");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The batch is done.
        }
    }
}
