using System.Runtime.Serialization;
using Azure;
using Azure.Data.Tables;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>What the entities of a job's partition (partition key: the job id) share.</summary>
internal abstract class JobPartitionEntity(string rowKey) : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = rowKey;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>A copy under another row key of the same partition, to write as a new entity.</summary>
    public ITableEntity CopyAs(string rowKey)
    {
        var copy = (JobPartitionEntity)MemberwiseClone();
        copy.RowKey = rowKey;
        copy.ETag = default;
        return copy;
    }
}

/// <summary>
/// The status entity of one job in the jobs table (partition key: the job id; row key: <see cref="JobRowKey"/>).
/// Every change goes through <see cref="JobStatusStore"/> with optimistic concurrency. The submitted
/// message lies beside it, in a <see cref="JobMessageRecord"/> of the same partition, so that the many
/// progress updates rewrite a small entity.
/// </summary>
internal sealed class JobStatusRecord() : JobPartitionEntity(JobRowKey)
{
    public const string JobRowKey = "job";

    public string State { get; set; } = nameof(Jobs.JobState.Queued);
    public string? ReasonsJson { get; set; }
    public string? Model { get; set; }
    public string? ModelVersion { get; set; }
    public int? Steps { get; set; }
    public double? CfgScale { get; set; }
    public long? Seed { get; set; }
    public string? Priority { get; set; }
    public DateTimeOffset? Deadline { get; set; }
    public string? CallbackUrl { get; set; }
    public int TotalImages { get; set; }
    public int DoneImages { get; set; }
    public byte[]? CompletedBitmap { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Error { get; set; }

    // Idempotency: what was submitted under this id, and how far intake got with enqueueing its work.
    public string ContentHash { get; set; } = "";
    public int WorkItemCount { get; set; }
    public int WorkItemsEnqueued { get; set; }
    public bool WorkEnqueued { get; set; }

    [IgnoreDataMember]
    public string JobId => PartitionKey;

    [IgnoreDataMember]
    public JobState JobState
    {
        get => Enum.Parse<JobState>(State);
        set => State = value.ToString();
    }

    [IgnoreDataMember]
    public IReadOnlyList<string> Reasons
    {
        get => TableJson.ReadStrings(ReasonsJson);
        set => ReasonsJson = TableJson.WriteStrings(value);
    }

    [IgnoreDataMember]
    public JobPriority? JobPriority
    {
        get => Priority is null ? null : Enum.Parse<JobPriority>(Priority);
        set => Priority = value?.ToString();
    }
}

/// <summary>The message a job was submitted with (row key <see cref="MessageRowKey"/> in the job's partition), written once.</summary>
internal sealed class JobMessageRecord() : JobPartitionEntity(MessageRowKey)
{
    public const string MessageRowKey = "message";

    public string? MessageId { get; set; }
    public byte[]? Message { get; set; }
    public int MessageBytes { get; set; }
    public bool MessageTruncated { get; set; }
    public bool MessageWasBase64 { get; set; }}

/// <summary>
/// A rejected record, and its message, that a later submission under the same id replaces: it is kept in the job's
/// partition under <see cref="RowKeyOf"/>(its content hash) (the message with <see cref="MessageSuffix"/>), so that a
/// redelivery of the rejected message gets its own answer again and does not take the id back.
/// </summary>
internal sealed record SupersededRejection(JobStatusRecord Record, JobMessageRecord? Message)
{
    public const string MessageSuffix = "-message";

    public static string RowKeyOf(string contentHash) => "rejected-" + contentHash;

    /// <summary>Copies of the record and the message under their kept row keys, to upsert.</summary>
    public IEnumerable<TableTransactionAction> ToKeptEntities()
    {
        string rowKey = RowKeyOf(Record.ContentHash);
        yield return new TableTransactionAction(TableTransactionActionType.UpsertReplace, Record.CopyAs(rowKey));
        if (Message is not null)
        {
            yield return new TableTransactionAction(TableTransactionActionType.UpsertReplace, Message.CopyAs(rowKey + MessageSuffix));
        }
    }
}
