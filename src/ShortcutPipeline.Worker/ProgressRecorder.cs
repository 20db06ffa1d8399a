using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Worker;

/// <summary>
/// Records stored images in the job statuses, coalesced per job: at most one status update of a job is in flight,
/// and the images stored meanwhile go into its next update together. So a pass that finishes many rows of one job
/// costs one or two updates of its status record, not one per image, while images of different jobs are recorded
/// concurrently. Thread-safe.
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
            lock (jobs)
            {
                JobUpdates updates = jobs[jobId];
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
                await progress.RecordImagesAsync(jobId, batch.Select(b => b.Index).Distinct().ToList(), CancellationToken.None)
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
    }
}
