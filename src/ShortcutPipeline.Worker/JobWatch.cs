using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Worker;

/// <summary>
/// Watches the jobs whose work items the worker holds: reads each job's status every poll interval in the
/// background and remembers the jobs that no longer want images (cancelled, failed, finished, unknown, past their
/// deadline), so that the sampler can drop their rows between forward passes without waiting on storage. It also
/// marks a job running when its first row starts (<see cref="MarkStarted"/>); a job that cannot be marked is stopped.
/// </summary>
internal sealed class JobWatch : IAsyncDisposable
{
    private readonly JobProgress progress;
    private readonly TimeSpan interval;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Dictionary<string, int> watched = new(StringComparer.Ordinal);   // job id -> work items held; locked
    private readonly ConcurrentDictionary<string, bool> stopped = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> started = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource polling = new();
    private readonly Task poller;

    public JobWatch(JobProgress progress, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        this.progress = progress;
        this.interval = interval;
        this.time = time;
        this.logger = logger;
        poller = PollAsync(polling.Token);
    }

    /// <summary>Starts watching <paramref name="jobId"/> for one more held work item.</summary>
    public void Watch(string jobId)
    {
        lock (watched)
        {
            watched[jobId] = watched.GetValueOrDefault(jobId) + 1;
        }
    }

    /// <summary>One held work item of <paramref name="jobId"/> is done; the job is forgotten with its last one.</summary>
    public void Unwatch(string jobId)
    {
        lock (watched)
        {
            if (watched.TryGetValue(jobId, out int count) && count > 1)
            {
                watched[jobId] = count - 1;
                return;
            }

            watched.Remove(jobId);
            stopped.TryRemove(jobId, out _);
            started.TryRemove(jobId, out _);
        }
    }

    /// <summary>True when job <paramref name="jobId"/> no longer wants images.</summary>
    public bool IsStopped(string jobId) => stopped.ContainsKey(jobId);

    /// <summary>Marks the job running (once, in the background) as its first row starts.</summary>
    public void MarkStarted(string jobId) => started.GetOrAdd(jobId, id => MarkRunningAsync(id));

    /// <summary>Stops polling and waits for the marks in flight.</summary>
    public async ValueTask DisposeAsync()
    {
        await polling.CancelAsync().ConfigureAwait(false);
        await poller.ConfigureAwait(false);
        await Task.WhenAll(started.Values).ConfigureAwait(false);
        polling.Dispose();
    }

    private async Task MarkRunningAsync(string jobId)
    {
        try
        {
            if (!await progress.MarkRunningAsync(jobId, CancellationToken.None).ConfigureAwait(false))
            {
                Stop(jobId);
            }
        }
        catch (Exception exception)
        {
            // The job's first image record marks it running anyway; an outage is logged by the worker's loops.
            logger.Log(StorageFailures.MayPass(exception) ? LogLevel.Debug : LogLevel.Warning, exception, "Could not mark job {JobId} running.", jobId);
        }
    }

    private void Stop(string jobId)
    {
        if (stopped.TryAdd(jobId, true))
        {
            logger.LogInformation("Job {JobId} no longer wants images: stopping its rows.", jobId);
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        var backoff = new OutageBackoff("The worker's job watch", logger, time, interval);
        try
        {
            while (true)
            {
                await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
                try
                {
                    List<string> jobIds;
                    lock (watched)
                    {
                        jobIds = watched.Keys.Where(id => !IsStopped(id)).ToList();
                    }

                    await Task.WhenAll(jobIds.Select(async id =>
                    {
                        if (await progress.IsCancelledOrExpiredAsync(id, cancellationToken).ConfigureAwait(false))
                        {
                            Stop(id);
                        }
                    })).ConfigureAwait(false);
                    backoff.Succeeded();
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    await backoff.WaitAfterFailureAsync(exception, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The worker is stopping.
        }
    }
}
