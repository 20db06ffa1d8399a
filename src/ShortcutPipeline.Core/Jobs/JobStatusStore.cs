using System.Net;
using Azure;
using Azure.Data.Tables;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>
/// Reads and changes job status records. Changes are read-modify-write with the entity's ETag: when
/// another writer got in between (HTTP 412), the change is applied again to the fresh record.
/// </summary>
internal sealed class JobStatusStore
{
    private readonly TableClient table;
    private readonly TimeProvider time;
    private readonly int maxAttempts;

    public JobStatusStore(PipelineStorage storage, TimeProvider time, int maxAttempts)
    {
        table = storage.JobsTable;
        this.time = time;
        this.maxAttempts = maxAttempts;
    }

    public Task<JobStatusRecord?> GetAsync(string jobId, CancellationToken cancellationToken) =>
        OptimisticTableUpdate.GetAsync<JobStatusRecord>(table, jobId, JobStatusRecord.JobRowKey, cancellationToken);

    public Task<JobMessageRecord?> GetMessageAsync(string jobId, CancellationToken cancellationToken) =>
        OptimisticTableUpdate.GetAsync<JobMessageRecord>(table, jobId, JobMessageRecord.MessageRowKey, cancellationToken);

    /// <summary>A rejection that a later submission under its id replaced, kept in the job's partition (see <see cref="SupersededRejection"/>).</summary>
    public Task<JobStatusRecord?> GetSupersededRejectionAsync(string jobId, string contentHash, CancellationToken cancellationToken) =>
        OptimisticTableUpdate.GetAsync<JobStatusRecord>(table, jobId, SupersededRejection.RowKeyOf(contentHash), cancellationToken);

    /// <summary>
    /// Adds a new record and its message in one transaction; false when the job id is taken already. With
    /// <paramref name="replacing"/> (the job's rejected record, as read), replaces that record and its message instead,
    /// and keeps both under <see cref="SupersededRejection.RowKeyOf"/> in the same transaction; false when the record
    /// changed since it was read.
    /// </summary>
    public async Task<bool> TryAddAsync(
        JobStatusRecord record, JobMessageRecord message, SupersededRejection? replacing, CancellationToken cancellationToken)
    {
        record.CreatedAt = record.UpdatedAt = time.GetUtcNow();
        message.PartitionKey = record.PartitionKey;
        List<TableTransactionAction> actions = replacing is null
            ? [new(TableTransactionActionType.Add, record), new(TableTransactionActionType.Add, message)]
            : [new(TableTransactionActionType.UpdateReplace, record, replacing.Record.ETag),
               new(TableTransactionActionType.UpsertReplace, message), .. replacing.ToKeptEntities()];
        try
        {
            Response<IReadOnlyList<Response>> response = await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            record.ETag = response.Value[0].Headers.ETag ?? default;
            return true;
        }
        catch (TableTransactionFailedException exception)
            when (exception.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }

    /// <summary>Sets a few properties without reading (and without disturbing the others).</summary>
    public async Task MergeAsync(string jobId, IDictionary<string, object?> properties, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(jobId, JobStatusRecord.JobRowKey);
        foreach ((string name, object? value) in properties)
        {
            entity[name] = value;
        }

        entity[nameof(JobStatusRecord.UpdatedAt)] = time.GetUtcNow();
        await table.UpdateEntityAsync(entity, ETag.All, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Applies <paramref name="change"/> (which returns false to leave the record as it is) and writes the
    /// record back if its ETag still matches, retrying on the fresh record otherwise (see
    /// <see cref="OptimisticTableUpdate"/>). Returns the final record (null: no such job) and whether this call changed it.
    /// </summary>
    public Task<(JobStatusRecord? Record, bool Changed)> UpdateAsync(
        string jobId, Func<JobStatusRecord, bool> change, CancellationToken cancellationToken) =>
        OptimisticTableUpdate.UpdateAsync<JobStatusRecord>(
            table, jobId, JobStatusRecord.JobRowKey, change, record => record.UpdatedAt = time.GetUtcNow(), maxAttempts,
            $"status of job {jobId}", cancellationToken);

    /// <summary>
    /// Finishes job <paramref name="jobId"/> in <paramref name="state"/> unless it has finished already: sets the
    /// state, applies <paramref name="alsoChange"/> (if any) and stamps <see cref="JobStatusRecord.FinishedAt"/>
    /// with <paramref name="clock"/>'s time, through <see cref="UpdateAsync"/>. Returns the final record (null: no
    /// such job) and whether this call finished it.
    /// </summary>
    public Task<(JobStatusRecord? Record, bool Changed)> FinishUnlessTerminalAsync(
        string jobId, JobState state, TimeProvider clock, Action<JobStatusRecord>? alsoChange, CancellationToken cancellationToken) =>
        UpdateAsync(jobId, record =>
        {
            if (record.JobState.IsTerminal())
            {
                return false;
            }

            record.JobState = state;
            alsoChange?.Invoke(record);
            record.FinishedAt = clock.GetUtcNow();
            return true;
        }, cancellationToken);
}
