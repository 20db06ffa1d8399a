using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Model;

namespace ShortcutPipeline.Worker;

/// <summary>
/// Runs one sampler batch: loads its model version, poisons items the model cannot draw, marks the jobs running,
/// samples (stopping the rows of jobs that are cancelled or past their deadline between steps), writes each
/// finished image as a PNG blob, records the images per job, and deletes each message once all its images are
/// stored. A failure releases the affected messages for a retry (or poisons them on their last delivery).
/// </summary>
internal sealed class BatchProcessor(
    MessageGiveUp giveUp, SamplingService sampling, ImageWriter writer, JobProgress progress, WorkerMetrics metrics,
    WorkerOptions options, TimeProvider time, ILogger logger)
{
    private readonly SemaphoreSlim uploads = new(options.UploadConcurrency, options.UploadConcurrency);

    /// <summary>Why a job failed when its deadline passed before its images were drawn.</summary>
    public static string DeadlineReason(WorkItem item) => string.Create(CultureInfo.InvariantCulture,
        $"The deadline {item.Deadline:yyyy-MM-ddTHH:mm:ssZ} passed before images {item.Images[0].Index} to {item.Images[^1].Index} were drawn.");

    public async Task RunAsync(SampleBatch<HeldWorkItem> batch, int batchNumber, CancellationToken cancellationToken)
    {
        List<BatchEntry<HeldWorkItem>> entries = batch.Entries.Where(e => !e.Tag.Released).ToList();
        if (entries.Count == 0)
        {
            return;
        }

        BatchKey key = batch.Key;
        LoadedModel model;
        try
        {
            model = await sampling.GetModelAsync(key.Model, key.ModelVersion, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogError(exception, "Batch {Batch}: model {Model} {Version} is not available.", batchNumber, key.Model, key.ModelVersion);
            await FailAsync(entries.Select(e => e.Tag), exception).ConfigureAwait(false);
            return;
        }

        foreach (HeldWorkItem held in entries.Select(e => e.Tag).Distinct())
        {
            if (SamplingService.CheckItem(held.Item, model.Config) is string problem)
            {
                held.Released = true;
                await giveUp.PoisonAsync(held.Lease, held.Item.JobId, "The work item cannot be drawn: " + problem).ConfigureAwait(false);
            }
        }

        entries.RemoveAll(e => e.Tag.Released);
        if (entries.Count == 0)
        {
            return;
        }

        var rows = entries.SelectMany(e => e.Images.Select(image => new Row(e, image))).ToList();
        var requests = rows.Select(r => new SampleRequest(r.Image.Label, r.Entry.Item.Steps, r.Entry.Item.CfgScale, r.Image.Seed)).ToList();
        List<string> jobIds = entries.Select(e => e.Item.JobId).Distinct(StringComparer.Ordinal).ToList();
        metrics.BatchStarting();
        logger.LogInformation("Sampling batch {Batch}: {Images} images of {Jobs} jobs at {Steps} steps with {Model} {Version}.",
            batchNumber, rows.Count, jobIds.Count, key.Steps, key.Model, key.ModelVersion);

        var clock = Stopwatch.StartNew();
        SampledImages sampled;
        try
        {
            // A job that cannot be marked running is unknown or finished: its rows stop before the first step.
            bool[] running = await Task.WhenAll(jobIds.Select(id => progress.MarkRunningAsync(id, cancellationToken))).ConfigureAwait(false);
            await using JobWatch watch = JobWatch.Start(
                progress, jobIds, jobIds.Where((_, j) => !running[j]), options.CancellationPollInterval, time, logger);
            IReadOnlyCollection<int> RowsToStop(int step)
            {
                DateTimeOffset now = time.GetUtcNow();
                return Enumerable.Range(0, rows.Count)
                    .Where(r => watch.IsStopped(rows[r].Entry.Item.JobId) || rows[r].Entry.Item.Deadline <= now)
                    .ToList();
            }

            sampled = await sampling.SampleAsync(model, requests, RowsToStop, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogError(exception, "Batch {Batch} failed while sampling.", batchNumber);
            await FailAsync(entries.Select(e => e.Tag), exception).ConfigureAwait(false);
            return;
        }

        TimeSpan samplingTime = clock.Elapsed;
        clock.Restart();
        int[] storedPerJob = await Task.WhenAll(rows
            .Select((row, index) => (Row: row, Index: index))
            .GroupBy(r => r.Row.Entry.Item.JobId, StringComparer.Ordinal)
            .Select(job => StoreJobAsync(job.Key, job.ToList(), sampled, model, cancellationToken))).ConfigureAwait(false);

        int stopped = sampled.Completed.Count(done => !done);
        var record = new BatchRecord(key.Model, key.ModelVersion, key.Steps, rows.Count, entries.Count, sampled.ForwardPasses,
            storedPerJob.Sum(), stopped, samplingTime, clock.Elapsed, time.GetUtcNow());
        metrics.RecordBatch(record);
        logger.LogInformation(
            "Stored batch {Batch}: {Stored} of {Images} images ({Stopped} stopped), {Passes} forward passes, sampled in {Sampling:F2} s, stored in {Storing:F2} s.",
            batchNumber, record.ImagesStored, rows.Count, stopped, record.ForwardPasses, samplingTime.TotalSeconds, record.StoringTime.TotalSeconds);
    }

    // Writes the finished images of one job, records them in one update, then deletes the messages that are done.
    private async Task<int> StoreJobAsync(
        string jobId, List<(Row Row, int Index)> rows, SampledImages sampled, LoadedModel model, CancellationToken cancellationToken)
    {
        try
        {
            List<(Row Row, int Index)> finished = rows.Where(r => sampled.Completed[r.Index]).ToList();
            await Task.WhenAll(finished.Select(r => WriteAsync(r.Row, r.Index, sampled, model, cancellationToken))).ConfigureAwait(false);
            if (finished.Count > 0)
            {
                await progress.RecordImagesAsync(jobId, finished.Select(r => r.Row.Image.Index).ToList(), cancellationToken).ConfigureAwait(false);
            }

            foreach (HeldWorkItem held in rows.Where(r => !sampled.Completed[r.Index]).Select(r => r.Row.Entry.Tag))
            {
                held.HadStoppedRows = true;
            }

            foreach (BatchEntry<HeldWorkItem> entry in rows.Select(r => r.Row.Entry).Distinct())
            {
                if (!entry.Tag.Finish(entry.Images.Count))
                {
                    continue;   // a slice of an item larger than a batch: its message waits for the other slices
                }

                WorkItem item = entry.Item;
                if (entry.Tag.HadStoppedRows && item.Deadline <= time.GetUtcNow())
                {
                    await progress.MarkFailedAsync(jobId, DeadlineReason(item), cancellationToken).ConfigureAwait(false);
                }

                entry.Tag.Released = true;
                await entry.Tag.Lease.DeleteAsync(cancellationToken).ConfigureAwait(false);
                await entry.Tag.Lease.DisposeAsync().ConfigureAwait(false);
            }

            return finished.Count;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            logger.LogError(exception, "Storing the images of job {JobId} failed.", jobId);
            await FailAsync(rows.Select(r => r.Row.Entry.Tag), exception).ConfigureAwait(false);
            return 0;
        }
    }

    private async Task WriteAsync(Row row, int index, SampledImages sampled, LoadedModel model, CancellationToken cancellationToken)
    {
        await uploads.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            WorkItem item = row.Entry.Item;
            byte[] png = await Task.Run(
                () => ImageWriter.EncodePng(sampled, index, ImageWriter.TextChunks(item, row.Image, model.Config)), cancellationToken)
                .ConfigureAwait(false);
            ImageWriteOutcome outcome = await writer.WriteAsync(item.JobId, row.Image.Index, png, cancellationToken).ConfigureAwait(false);
            if (outcome == ImageWriteOutcome.AlreadyExisted)
            {
                logger.LogInformation("Image {Index} of job {JobId} was written before (a redelivery); kept the first one.", row.Image.Index, item.JobId);
            }
        }
        finally
        {
            uploads.Release();
        }
    }

    // Releases (or, on their last delivery, poisons) the messages of a failed attempt; each once.
    private async Task FailAsync(IEnumerable<HeldWorkItem> items, Exception error)
    {
        foreach (HeldWorkItem held in items.Distinct().Where(h => !h.Released).ToList())
        {
            held.Released = true;
            await giveUp.FailAsync(held.Lease, held.Item.JobId, error).ConfigureAwait(false);
        }
    }

    private sealed record Row(BatchEntry<HeldWorkItem> Entry, ImageRequest Image);
}
