using System.Text;
using System.Text.Json;

namespace ShortcutPipeline.Core.Queues;

/// <summary>
/// What <see cref="QueueReceiver"/> puts on a poison queue (<see cref="StorageNames.PoisonQueueOf"/>): the
/// original message text with why it was given up and where it came from, as JSON (<see cref="PipelineJson.Options"/>).
/// When that envelope would not fit in a queue message, the original text goes to the poison queue as it
/// is (the reason is then only in the log and, for work items, in the job's status).
/// </summary>
public sealed record PoisonMessage
{
    /// <summary>The largest queue message, in bytes of text.</summary>
    public const int MaxQueueMessageBytes = 64 * 1024;

    /// <summary>Why the message was given up.</summary>
    public required string Reason { get; init; }

    /// <summary>The queue it came from.</summary>
    public required string Queue { get; init; }

    /// <summary>Its id there.</summary>
    public required string MessageId { get; init; }

    /// <summary>How many times it was received.</summary>
    public required long DequeueCount { get; init; }

    /// <summary>When it was first enqueued.</summary>
    public DateTimeOffset? InsertedOn { get; init; }

    /// <summary>When it was moved to the poison queue.</summary>
    public required DateTimeOffset PoisonedAt { get; init; }

    /// <summary>The original message text, unchanged.</summary>
    public required string Message { get; init; }

    /// <summary>The envelope's JSON, or the original text alone when the envelope is too big for a queue message.</summary>
    public string ToQueueText()
    {
        string json = JsonSerializer.Serialize(this, PipelineJson.Options);
        return Encoding.UTF8.GetByteCount(json) <= MaxQueueMessageBytes ? json : Message;
    }

    /// <summary>
    /// Reads a poison-queue message: the envelope, or null when the text is not one (an original message
    /// that was too big to wrap, or one the Functions host moved there).
    /// </summary>
    public static PoisonMessage? TryParse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            PoisonMessage? message = JsonSerializer.Deserialize<PoisonMessage>(text, PipelineJson.Options);
            return message is { Reason: not null, Message: not null, Queue: not null } ? message : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
