using System.Runtime.Serialization;
using Azure;
using Azure.Data.Tables;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>
/// The status entity of one job in the jobs table (partition key: the job id; row key: <see cref="JobRowKey"/>).
/// Every change goes through <see cref="JobStatusStore"/> with optimistic concurrency. The submitted
/// message lies beside it, in a <see cref="JobMessageRecord"/> of the same partition, so that the many
/// progress updates rewrite a small entity.
/// </summary>
internal sealed class JobStatusRecord : ITableEntity
{
    public const string JobRowKey = "job";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = JobRowKey;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

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
internal sealed class JobMessageRecord : ITableEntity
{
    public const string MessageRowKey = "message";

    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = MessageRowKey;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    public string? MessageId { get; set; }
    public byte[]? Message { get; set; }
    public int MessageBytes { get; set; }
    public bool MessageTruncated { get; set; }
    public bool MessageWasBase64 { get; set; }
}
