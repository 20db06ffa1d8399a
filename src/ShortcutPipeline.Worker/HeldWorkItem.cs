using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Queues;

namespace ShortcutPipeline.Worker;

/// <summary>
/// A received work item and the lease on its message, while the worker holds it. The message is deleted once
/// every image of the item is stored and recorded (or no longer wanted); when an attempt fails the item is
/// <see cref="Released"/> (its message released for a retry) and any of its slices still waiting are skipped.
/// </summary>
internal sealed class HeldWorkItem(QueueMessageLease lease, WorkItem item)
{
    private int remainingImages = item.Images.Count;

    public QueueMessageLease Lease { get; } = lease;

    public WorkItem Item { get; } = item;

    /// <summary>True once the worker gave the message up (released for a retry, poisoned or deleted): skip any slices left.</summary>
    public bool Released { get; set; }

    /// <summary>True when some rows of the item were stopped before their last step.</summary>
    public bool HadStoppedRows { get; set; }

    /// <summary>Counts <paramref name="images"/> of the item as finished; true when none is left.</summary>
    public bool Finish(int images) => Interlocked.Add(ref remainingImages, -images) == 0;
}
