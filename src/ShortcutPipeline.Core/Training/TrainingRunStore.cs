namespace ShortcutPipeline.Core.Training;

/// <summary>
/// The runs table (<see cref="StorageNames.RunsTable"/>): one record per training run, read by the HTTP API and the
/// scheduler, written by the launcher and the trainer. Every change is a read-modify-write with the entity's ETag
/// (retried on the fresh record when another writer got in between), and a terminal run (Succeeded, Failed) is
/// never changed again.
/// </summary>
/// <param name="storage">The storage whose runs table holds the runs.</param>
/// <param name="time">The clock of the runs' times (default: the system's).</param>
public sealed class TrainingRunStore(PipelineStorage storage, TimeProvider? time = null)
{
    private const int MaxUpdateAttempts = 50;

    private readonly TableClient table = (storage ?? throw new ArgumentNullException(nameof(storage))).RunsTable;
    private readonly TimeProvider time = time ?? TimeProvider.System;

    /// <summary>The run, or null when there is none with this id.</summary>
    public async Task<TrainingRun?> GetAsync(string runId, CancellationToken cancellationToken = default) =>
        (await GetRecordAsync(runId, cancellationToken).ConfigureAwait(false))?.ToRun();

    /// <summary>The runs (of <paramref name="model"/> when given), newest first, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<TrainingRun>> ListAsync(string? model = null, int max = 100, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        string? filter = model is null ? null : TableClient.CreateQueryFilter($"Model eq {model}");
        var runs = new List<TrainingRun>();
        await foreach (TrainingRunRecord record in table.QueryAsync<TrainingRunRecord>(filter, cancellationToken: cancellationToken)
                           .ConfigureAwait(false))
        {
            runs.Add(record.ToRun());
        }

        return runs.OrderByDescending(run => run.CreatedAt).ThenBy(run => run.RunId, StringComparer.Ordinal).Take(max).ToList();
    }

    /// <summary>
    /// Records a new <see cref="TrainingRunState.Queued"/> run for <paramref name="request"/>. When a run with its id
    /// exists already, nothing changes and that run is returned with Created false.
    /// </summary>
    public async Task<(TrainingRun Run, bool Created)> CreateAsync(
        TrainingRequest request, TrainingTrigger trigger, string? datasetFingerprint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        DateTimeOffset now = time.GetUtcNow();
        string fingerprint = request.ConfigurationFingerprint();
        var record = new TrainingRunRecord
        {
            PartitionKey = request.RunId,
            Trigger = trigger,
            Model = request.Model,
            RequestJson = request.ToJson(),
            ConfigurationFingerprint = fingerprint,
            ContentHash = fingerprint,
            DatasetFingerprint = datasetFingerprint,
            TotalSteps = request.Steps,
            CreatedAt = now,
            UpdatedAt = now,
        };
        return await AddOrGetAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records a request that broke the contract as a <see cref="TrainingRunState.Failed"/> run with
    /// <paramref name="reasons"/> and the request's text. When a run with this id exists already, nothing changes
    /// and that run is returned with Created false.
    /// </summary>
    public async Task<(TrainingRun Run, bool Created)> RecordRejectedAsync(
        string runId, string? model, string requestText, string contentHash, IReadOnlyList<string> reasons, TrainingTrigger trigger,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requestText);
        ArgumentNullException.ThrowIfNull(reasons);
        DateTimeOffset now = time.GetUtcNow();
        var record = new TrainingRunRecord
        {
            PartitionKey = runId,
            State = TrainingRunState.Failed,
            Trigger = trigger,
            Model = model,
            RequestText = requestText.Length <= TrainingRunRecord.MaxRequestTextLength
                ? requestText
                : requestText[..TrainingRunRecord.MaxRequestTextLength],
            ContentHash = contentHash,
            Reasons = reasons,
            CreatedAt = now,
            UpdatedAt = now,
            FinishedAt = now,
        };
        return await AddOrGetAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Notes that the run's request is on the training queue.</summary>
    public Task<TrainingRun?> MarkEnqueuedAsync(string runId, CancellationToken cancellationToken = default) =>
        ChangeAsync(runId, record =>
        {
            if (record.Enqueued)
            {
                return false;
            }

            record.Enqueued = true;
            return true;
        }, cancellationToken);

    /// <summary>
    /// A trainer starts an attempt on the run: Running, one more attempt, <paramref name="trainer"/>, and the
    /// checkpoint step it resumes from (null: from scratch). A terminal run is left as it is (check the result's state).
    /// </summary>
    public Task<TrainingRun?> MarkRunningAsync(string runId, string trainer, long? resumedFromStep, CancellationToken cancellationToken = default) =>
        ChangeUnlessTerminalAsync(runId, record =>
        {
            record.State = TrainingRunState.Running;
            record.Attempts++;
            record.Trainer = trainer;
            record.ResumedFromStep = resumedFromStep;
            record.Step = resumedFromStep ?? 0;
            record.StartedAt ??= time.GetUtcNow();
        }, cancellationToken);

    /// <summary>The step a running run has reached (between checkpoints).</summary>
    public Task<TrainingRun?> RecordProgressAsync(string runId, long step, CancellationToken cancellationToken = default) =>
        ChangeUnlessTerminalAsync(runId, record => record.Step = step, cancellationToken);

    /// <summary>A checkpoint of step <paramref name="step"/> is in Blob Storage at <paramref name="checkpointBlob"/>; <paramref name="metrics"/> are merged in.</summary>
    public Task<TrainingRun?> RecordCheckpointAsync(
        string runId, long step, string checkpointBlob, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return ChangeUnlessTerminalAsync(runId, record =>
        {
            record.Step = step;
            record.CheckpointStep = step;
            record.LastCheckpoint = checkpointBlob;
            Dictionary<string, double> merged = record.Metrics;
            foreach ((string name, double value) in metrics)
            {
                merged[name] = value;
            }

            record.Metrics = merged;
        }, cancellationToken);
    }

    /// <summary>Records a promotion (<paramref name="promotedVersion"/>, or null when none happened) and its note.</summary>
    public Task<TrainingRun?> RecordPromotionAsync(
        string runId, string? promotedVersion, string? note, CancellationToken cancellationToken = default) =>
        ChangeUnlessTerminalAsync(runId, record =>
        {
            record.PromotedVersion = promotedVersion ?? record.PromotedVersion;
            record.PromotionNote = note;
        }, cancellationToken);

    /// <summary>Records the error that ended an attempt; the run stays Running, to be resumed by the next delivery.</summary>
    public Task<TrainingRun?> RecordErrorAsync(string runId, string error, CancellationToken cancellationToken = default) =>
        ChangeUnlessTerminalAsync(runId, record => record.LastError = Truncate(error), cancellationToken);

    /// <summary>The run trained to its total: Succeeded.</summary>
    public Task<TrainingRun?> MarkSucceededAsync(string runId, CancellationToken cancellationToken = default) =>
        ChangeUnlessTerminalAsync(runId, record =>
        {
            record.State = TrainingRunState.Succeeded;
            record.Step = record.TotalSteps;
            record.FinishedAt = time.GetUtcNow();
        }, cancellationToken);

    /// <summary>The run cannot be trained: Failed, with <paramref name="reasons"/>.</summary>
    public Task<TrainingRun?> MarkFailedAsync(string runId, IReadOnlyList<string> reasons, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reasons);
        return ChangeUnlessTerminalAsync(runId, record =>
        {
            record.State = TrainingRunState.Failed;
            record.Reasons = reasons.Select(Truncate).ToList();
            record.FinishedAt = time.GetUtcNow();
        }, cancellationToken);
    }

    private async Task<TrainingRunRecord?> GetRecordAsync(string runId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        return await OptimisticTableUpdate.GetAsync<TrainingRunRecord>(table, runId, TrainingRunRecord.RunRowKey, cancellationToken)
            .ConfigureAwait(false);
    }

    private async Task<(TrainingRun Run, bool Created)> AddOrGetAsync(TrainingRunRecord record, CancellationToken cancellationToken)
    {
        if (await OptimisticTableUpdate.TryAddAsync(table, record, cancellationToken).ConfigureAwait(false))
        {
            return (record.ToRun(), true);
        }

        TrainingRunRecord existing = await GetRecordAsync(record.PartitionKey, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The record of run {record.PartitionKey} exists and does not.");
        return (existing.ToRun(), false);
    }

    private Task<TrainingRun?> ChangeUnlessTerminalAsync(string runId, Action<TrainingRunRecord> change, CancellationToken cancellationToken) =>
        ChangeAsync(runId, record =>
        {
            if (record.State.IsTerminal())
            {
                return false;
            }

            change(record);
            return true;
        }, cancellationToken);

    private async Task<TrainingRun?> ChangeAsync(string runId, Func<TrainingRunRecord, bool> change, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        (TrainingRunRecord? record, _) = await OptimisticTableUpdate.UpdateAsync(
            table, runId, TrainingRunRecord.RunRowKey, change, record => record.UpdatedAt = time.GetUtcNow(), MaxUpdateAttempts,
            $"record of run {runId}", cancellationToken).ConfigureAwait(false);
        return record?.ToRun();
    }

    private static string Truncate(string text) => text.Length <= 4000 ? text : text[..4000] + " ...";
}
