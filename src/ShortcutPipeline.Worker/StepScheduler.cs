using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Worker;

/// <summary>How the worker fills its forward passes (<see cref="WorkerOptions.Scheduling"/>).</summary>
public enum SchedulingPolicy
{
    /// <summary>
    /// Iteration-level batching: before every forward pass, rows of any step budget are admitted up to the row limit
    /// (priority first, then deadline, then age), and a row that has run its last step leaves at once.
    /// </summary>
    Continuous,

    /// <summary>
    /// The earlier worker's batching, kept as the baseline of <c>shortcut bench-serving</c>: rows of one model version
    /// and one step budget start together once a pass's worth waits or the oldest has waited
    /// <see cref="WorkerOptions.MaxBatchWait"/>, and run to their last step before the next batch starts.
    /// </summary>
    BudgetBatches,
}

/// <summary>A model version: the rows of one forward pass share one.</summary>
/// <param name="Model">The model name.</param>
/// <param name="Version">The version.</param>
public sealed record ModelKey(string Model, string Version)
{
    /// <summary>The model version of a work item.</summary>
    public static ModelKey Of(WorkItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return new ModelKey(item.Model, item.ModelVersion);
    }
}

/// <summary>
/// One image of a received work item, from the moment it is received until it is finished or dropped: waiting, then
/// resident (started: it has sampler state in <see cref="Slot"/> and runs in the passes it is picked for).
/// </summary>
/// <typeparam name="T">What the caller attached to the work item (the worker: its held message).</typeparam>
public sealed class ScheduledRow<T>
{
    internal ScheduledRow(T tag, WorkItem item, ImageRequest image, DateTimeOffset receivedAt, long sequence)
    {
        Tag = tag;
        Item = item;
        Image = image;
        ReceivedAt = receivedAt;
        Sequence = sequence;
        Model = ModelKey.Of(item);
    }

    /// <summary>The caller's value.</summary>
    public T Tag { get; }

    /// <summary>The work item.</summary>
    public WorkItem Item { get; }

    /// <summary>The image this row draws.</summary>
    public ImageRequest Image { get; }

    /// <summary>The model version it is drawn with.</summary>
    public ModelKey Model { get; }

    /// <summary>When its work item was received.</summary>
    public DateTimeOffset ReceivedAt { get; }

    /// <summary>Arrival order, the last tie-breaker.</summary>
    public long Sequence { get; }

    /// <summary>True once the row has started (it stays resident until it finishes or is dropped).</summary>
    public bool Started { get; internal set; }

    /// <summary>The caller's sampler slot of a started row (-1 before).</summary>
    public int Slot { get; set; } = -1;

    /// <summary>The order rows are admitted and picked in: higher priority first, then earlier deadline (none: last), then older.</summary>
    internal static int Compare(ScheduledRow<T> a, ScheduledRow<T> b)
    {
        int order = b.Item.Priority.CompareTo(a.Item.Priority);
        if (order == 0)
        {
            order = (a.Item.Deadline ?? DateTimeOffset.MaxValue).CompareTo(b.Item.Deadline ?? DateTimeOffset.MaxValue);
        }

        return order != 0 ? order : a.Sequence.CompareTo(b.Sequence);
    }
}

/// <summary>The rows of one forward pass, all of one model version.</summary>
/// <typeparam name="T">What the caller attached to each work item.</typeparam>
/// <param name="Model">Their model version.</param>
/// <param name="Rows">Every row of the pass, in scheduling order; <see cref="Starting"/> among them.</param>
/// <param name="Starting">The rows that start with this pass (the caller gives each a slot before it runs).</param>
public sealed record PassPlan<T>(ModelKey Model, IReadOnlyList<ScheduledRow<T>> Rows, IReadOnlyList<ScheduledRow<T>> Starting);

/// <summary>
/// The worker's step scheduler: it holds the rows of the received work items, waiting or resident, and before every
/// forward pass picks the rows that run in it (<see cref="NextPass"/>). Under <see cref="SchedulingPolicy.Continuous"/>
/// the pass takes the first rows of one model version in <see cref="ScheduledRow{T}.Compare">scheduling order</see>,
/// up to <see cref="MaxRowsPerPass"/>: resident rows and waiting ones alike, so a row of higher priority (or an earlier
/// deadline) starts at once and a resident row of lower priority sits the pass out; at equal priority the older row
/// goes first. At most <see cref="MaxResidentRows"/> rows are resident, of at most <see cref="MaxModels"/> model
/// versions. Pure (time is passed in) and not thread-safe.
/// </summary>
/// <typeparam name="T">What the caller attaches to each work item (handed back in its rows).</typeparam>
public sealed class StepScheduler<T>
    where T : notnull
{
    private readonly List<ScheduledRow<T>> waiting = [];
    private readonly List<ScheduledRow<T>> resident = [];
    private readonly Dictionary<T, TagRows> tags = [];
    private long sequence;

    /// <summary>A scheduler; <paramref name="maxBatchWait"/> matters for <see cref="SchedulingPolicy.BudgetBatches"/> only.</summary>
    public StepScheduler(SchedulingPolicy policy, int maxRowsPerPass, int maxResidentRows, int maxModels, TimeSpan maxBatchWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRowsPerPass, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxResidentRows, maxRowsPerPass);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxModels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchWait, TimeSpan.Zero);
        Policy = policy;
        MaxRowsPerPass = maxRowsPerPass;
        MaxResidentRows = maxResidentRows;
        MaxModels = maxModels;
        MaxBatchWait = maxBatchWait;
    }

    /// <summary>How passes are filled.</summary>
    public SchedulingPolicy Policy { get; }

    /// <summary>The row limit: the most rows in one forward pass.</summary>
    public int MaxRowsPerPass { get; }

    /// <summary>The most rows started and not finished (those that sit a pass out included).</summary>
    public int MaxResidentRows { get; }

    /// <summary>The most model versions with resident rows at once.</summary>
    public int MaxModels { get; }

    /// <summary>The longest a row waits for its budget's batch to fill (<see cref="SchedulingPolicy.BudgetBatches"/>).</summary>
    public TimeSpan MaxBatchWait { get; }

    /// <summary>Rows received and not started.</summary>
    public int WaitingRows => waiting.Count;

    /// <summary>Rows started and not finished or dropped.</summary>
    public int ResidentRows => resident.Count;

    /// <summary>True when no row is held.</summary>
    public bool IsEmpty => waiting.Count == 0 && resident.Count == 0;

    /// <summary>The model versions with resident rows.</summary>
    public IReadOnlyCollection<ModelKey> ResidentModels => resident.Select(r => r.Model).Distinct().ToList();

    /// <summary>True when a row of <paramref name="model"/> is held, waiting or resident.</summary>
    public bool HoldsRowsOf(ModelKey model) => waiting.Any(r => r.Model == model) || resident.Any(r => r.Model == model);

    /// <summary>When a waiting budget batch becomes due by waiting (<see cref="SchedulingPolicy.BudgetBatches"/>; else null).</summary>
    public DateTimeOffset? NextDueAt => Policy == SchedulingPolicy.BudgetBatches && resident.Count == 0 && waiting.Count > 0
        ? waiting.Min(r => r.ReceivedAt) + MaxBatchWait
        : null;

    /// <summary>Adds a row per image of a work item received at <paramref name="receivedAt"/>.</summary>
    public void Add(T tag, WorkItem item, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (item.Images.Count == 0)
        {
            throw new ArgumentException("A work item without images cannot be scheduled.", nameof(item));
        }

        foreach (ImageRequest image in item.Images)
        {
            waiting.Add(new ScheduledRow<T>(tag, item, image, receivedAt, sequence++));
        }

        RowsOf(tag).Left += item.Images.Count;
    }

    /// <summary>
    /// The rows of the next forward pass at <paramref name="now"/>, or null when none should run now (nothing held,
    /// or under <see cref="SchedulingPolicy.BudgetBatches"/> no batch is full or due). The starting rows become resident.
    /// </summary>
    public PassPlan<T>? NextPass(DateTimeOffset now)
    {
        List<ScheduledRow<T>> rows = Policy == SchedulingPolicy.Continuous ? PickContinuous() : PickBudgetBatch(now);
        if (rows.Count == 0)
        {
            return null;
        }

        var starting = rows.Where(r => !r.Started).ToList();
        foreach (ScheduledRow<T> row in starting)
        {
            row.Started = true;
            waiting.Remove(row);
            resident.Add(row);
            tags[row.Tag].Started = true;
        }

        return new PassPlan<T>(rows[0].Model, rows, starting);
    }

    /// <summary>Puts started rows that never ran a step back among the waiting ones (their pass could not run: the model did not load).</summary>
    public void Unstart(IEnumerable<ScheduledRow<T>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (ScheduledRow<T> row in rows.Where(r => r.Started && r.Slot < 0).ToList())
        {
            if (resident.Remove(row))
            {
                row.Started = false;
                waiting.Add(row);
                tags[row.Tag].Started = resident.Any(r => Equals(r.Tag, row.Tag));
            }
        }
    }

    /// <summary>Removes a resident row that ran its last step.</summary>
    public void Finish(ScheduledRow<T> row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (resident.Remove(row))
        {
            Forget(row);
        }
    }

    /// <summary>Removes and returns every row, waiting or resident, that <paramref name="drop"/> names (a stopped job, a given-up message).</summary>
    public IReadOnlyList<ScheduledRow<T>> RemoveWhere(Func<ScheduledRow<T>, bool> drop)
    {
        ArgumentNullException.ThrowIfNull(drop);
        var dropped = waiting.Where(drop).Concat(resident.Where(drop)).ToList();
        foreach (ScheduledRow<T> row in dropped)
        {
            _ = row.Started ? resident.Remove(row) : waiting.Remove(row);
            Forget(row);
        }

        return dropped;
    }

    /// <summary>
    /// Removes the rows of work items none of whose rows has started and returns those items (the worker hands
    /// them back when it stops), each once, oldest first. Items with a started row stay, to be finished.
    /// </summary>
    public IReadOnlyList<T> TakeUnstarted()
    {
        var unstarted = waiting.Where(r => !tags[r.Tag].Started).ToList();
        foreach (ScheduledRow<T> row in unstarted)
        {
            waiting.Remove(row);
            Forget(row);
        }

        return unstarted.Select(r => r.Tag).Distinct().ToList();
    }

    // Continuous: the first rows of one model version in scheduling order; waiting rows only while there is room.
    private List<ScheduledRow<T>> PickContinuous()
    {
        var picked = new List<ScheduledRow<T>>();
        var models = new HashSet<ModelKey>(ResidentModels);
        int room = MaxResidentRows - resident.Count;
        ModelKey? model = null;
        foreach (ScheduledRow<T> row in resident.Concat(waiting).Order(Comparer<ScheduledRow<T>>.Create(ScheduledRow<T>.Compare)))
        {
            bool admissible = row.Started || (room > 0 && (models.Contains(row.Model) || models.Count < MaxModels));
            if (!admissible || (model is not null && row.Model != model))
            {
                continue;
            }

            model = row.Model;
            picked.Add(row);
            room -= row.Started ? 0 : 1;
            if (picked.Count == MaxRowsPerPass)
            {
                break;
            }
        }

        return picked;
    }

    // Budget batches: the resident batch until its last row finishes; then the first full or due group of one
    // model version and step budget, highest priority first, then the one waiting longest.
    private List<ScheduledRow<T>> PickBudgetBatch(DateTimeOffset now)
    {
        if (resident.Count > 0)
        {
            return [.. resident];
        }

        IGrouping<(ModelKey Model, int Steps), ScheduledRow<T>>? ready = waiting
            .GroupBy(r => (r.Model, r.Item.Steps))
            .Where(g => g.Count() >= MaxRowsPerPass || now - g.Min(r => r.ReceivedAt) >= MaxBatchWait)
            .OrderByDescending(g => g.Max(r => r.Item.Priority))
            .ThenBy(g => g.Min(r => r.Sequence))
            .FirstOrDefault();
        return ready is null ? [] : ready.OrderBy(r => r.Sequence).Take(MaxRowsPerPass).ToList();
    }

    private TagRows RowsOf(T tag)
    {
        if (!tags.TryGetValue(tag, out TagRows? rows))
        {
            tags[tag] = rows = new TagRows();
        }

        return rows;
    }

    private void Forget(ScheduledRow<T> row)
    {
        TagRows rows = tags[row.Tag];
        if (--rows.Left == 0)
        {
            tags.Remove(row.Tag);
        }
    }

    private sealed class TagRows
    {
        public int Left { get; set; }

        public bool Started { get; set; }
    }
}
