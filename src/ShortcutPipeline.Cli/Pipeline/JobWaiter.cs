using System.Diagnostics;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Cli.Pipeline;

/// <summary>Polls job statuses until every job is finished, reporting progress over all their images.</summary>
public static class JobWaiter
{
    /// <summary>
    /// Waits until every job of <paramref name="jobIds"/> is in a terminal state. A job without a status yet (its
    /// message still on the jobs queue) counts as waiting. <paramref name="progress"/> gets (images done, images in
    /// all, jobs finished) after every poll.
    /// </summary>
    /// <exception cref="TimeoutException"><paramref name="timeout"/> passed first; the message lists each job's state.</exception>
    public static async Task<IReadOnlyList<JobStatus>> WaitAsync(
        JobStatusService status, IReadOnlyList<string> jobIds, TimeSpan? timeout, Action<int, int, int>? progress,
        TimeSpan pollInterval, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(jobIds);
        var clock = Stopwatch.StartNew();
        var statuses = new JobStatus?[jobIds.Count];
        while (true)
        {
            await status.RefreshAsync(jobIds, statuses, cancellationToken).ConfigureAwait(false);
            progress?.Invoke(statuses.Sum(s => s?.DoneImages ?? 0), statuses.Sum(s => s?.TotalImages ?? 0),
                statuses.Count(s => s is not null && s.State.IsTerminal()));
            if (statuses.All(s => s is not null && s.State.IsTerminal()))
            {
                return statuses!;
            }

            if (timeout is { } limit && clock.Elapsed > limit)
            {
                throw new TimeoutException($"Not every job finished within {limit}: " + string.Join("; ", jobIds.Zip(statuses,
                    (id, s) => s is null ? $"{id}: no status yet" : $"{id}: {s.State.ToString().ToLowerInvariant()} {s.DoneImages}/{s.TotalImages}")));
            }

            await Task.Delay(pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }
}
