using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Queues;

namespace ShortcutPipeline.Worker;

/// <summary>
/// A received work item and the lease on its message, while the worker holds it. Each of its rows ends once:
/// stored (written and recorded) or stopped (its job no longer wants it, or its deadline passed). When the last one
/// ends, the message is deleted (<see cref="TryFinish"/>). When an attempt fails instead, the item is given up
/// (<see cref="TryGiveUp"/>: its message released for a retry or poisoned) and its other rows are dropped. Thread-safe:
/// rows end on the storing stage's tasks and the sampler's loop at once.
/// </summary>
internal sealed class HeldWorkItem(QueueMessageLease lease, WorkItem item)
{
    private const int Active = 0, Finished = 1, GivenUp = 2;
    private int state;
    private int rowsLeft = item.Images.Count;
    private int deadlineStops;
    private int checkedForModel;

    public QueueMessageLease Lease { get; } = lease;

    public WorkItem Item { get; } = item;

    /// <summary>When the worker received it (a <see cref="System.Diagnostics.Stopwatch"/> timestamp, for latency figures).</summary>
    public long ReceivedTimestamp { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>True once the message is deleted or given up: its remaining rows are not wanted.</summary>
    public bool IsDone => Volatile.Read(ref state) != Active;

    /// <summary>True when some of its rows were stopped because the deadline passed.</summary>
    public bool MissedDeadline => Volatile.Read(ref deadlineStops) > 0;

    /// <summary>True the first time it is called: the caller checks once whether the model can draw the item.</summary>
    public bool NeedsModelCheck() => Interlocked.Exchange(ref checkedForModel, 1) == 0;

    /// <summary>Counts one of its rows as ended (stored, or stopped); true when it was the last.</summary>
    public bool EndRow(bool stoppedByDeadline = false)
    {
        if (stoppedByDeadline)
        {
            Interlocked.Increment(ref deadlineStops);
        }

        return Interlocked.Decrement(ref rowsLeft) == 0;
    }

    /// <summary>True when this call moves the item to finished (its message is to be deleted now).</summary>
    public bool TryFinish() => Interlocked.CompareExchange(ref state, Finished, Active) == Active;

    /// <summary>True when this call gives the item up (its message is to be released or poisoned now).</summary>
    public bool TryGiveUp() => Interlocked.CompareExchange(ref state, GivenUp, Active) == Active;
}
