using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Worker;

/// <summary>What images may share a sampler batch: one model version and one step budget.</summary>
/// <param name="Model">The model name.</param>
/// <param name="ModelVersion">The model version.</param>
/// <param name="Steps">The step budget.</param>
public sealed record BatchKey(string Model, string ModelVersion, int Steps)
{
    /// <summary>The key of a work item.</summary>
    public static BatchKey Of(WorkItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return new BatchKey(item.Model, item.ModelVersion, item.Steps);
    }
}

/// <summary>Images of one work item inside a batch: all of them, or a slice when the item alone is larger than a batch.</summary>
/// <typeparam name="T">What the caller attached to the work item (the worker: its queue message).</typeparam>
/// <param name="Tag">The caller's value.</param>
/// <param name="Item">The work item.</param>
/// <param name="Images">Its images in this batch.</param>
public sealed record BatchEntry<T>(T Tag, WorkItem Item, IReadOnlyList<ImageRequest> Images);

/// <summary>One sampler batch: entries of a single <see cref="BatchKey"/>, at most the batcher's maximum images in all.</summary>
/// <typeparam name="T">What the caller attached to each work item.</typeparam>
public sealed class SampleBatch<T>
{
    internal SampleBatch(BatchKey key, IReadOnlyList<BatchEntry<T>> entries)
    {
        Key = key;
        Entries = entries;
        ImageCount = entries.Sum(e => e.Images.Count);
    }

    /// <summary>The model version and step budget of every entry.</summary>
    public BatchKey Key { get; }

    /// <summary>The entries, in the order they were added.</summary>
    public IReadOnlyList<BatchEntry<T>> Entries { get; }

    /// <summary>The number of images (sampler rows).</summary>
    public int ImageCount { get; }
}

/// <summary>
/// Groups received work items into sampler batches by <see cref="BatchKey"/> (model version and step budget), up
/// to <see cref="MaxBatchImages"/> images each. A group becomes a batch when it is full or when its oldest item
/// has waited <see cref="MaxWait"/>. A work item's images stay together unless the item alone is larger than a batch.
/// Pure (time is passed in) and not thread-safe.
/// </summary>
/// <typeparam name="T">What the caller attaches to each work item (handed back in its entries).</typeparam>
public sealed class Batcher<T>
{
    private readonly Dictionary<BatchKey, List<Pending>> groups = [];
    private long sequence;

    /// <summary>A batcher cutting batches of at most <paramref name="maxBatchImages"/> images after at most <paramref name="maxWait"/>.</summary>
    public Batcher(int maxBatchImages, TimeSpan maxWait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchImages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWait, TimeSpan.Zero);
        MaxBatchImages = maxBatchImages;
        MaxWait = maxWait;
    }

    /// <summary>The most images in a batch.</summary>
    public int MaxBatchImages { get; }

    /// <summary>The longest a work item waits for its batch to fill.</summary>
    public TimeSpan MaxWait { get; }

    /// <summary>Images added and not yet taken.</summary>
    public int PendingImages { get; private set; }

    /// <summary>When the next group becomes due by waiting (null: nothing pending).</summary>
    public DateTimeOffset? NextDueAt => groups.Count == 0 ? null : groups.Values.Min(g => g[0].ReceivedAt) + MaxWait;

    /// <summary>Adds a work item received at <paramref name="receivedAt"/>.</summary>
    public void Add(T tag, WorkItem item, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (item.Images.Count == 0)
        {
            throw new ArgumentException("A work item without images cannot be batched.", nameof(item));
        }

        BatchKey key = BatchKey.Of(item);
        if (!groups.TryGetValue(key, out List<Pending>? group))
        {
            groups[key] = group = [];
        }

        group.Add(new Pending(tag, item, item.Images, receivedAt, sequence++));
        PendingImages += item.Images.Count;
    }

    /// <summary>
    /// The next batch to run at <paramref name="now"/>, or null when no group is full or due. Among ready groups the
    /// one with the highest priority goes first, then the one waiting longest.
    /// </summary>
    public SampleBatch<T>? TakeReady(DateTimeOffset now)
    {
        KeyValuePair<BatchKey, List<Pending>>? ready = groups
            .Where(g => g.Value.Sum(p => p.Images.Count) >= MaxBatchImages || now - g.Value[0].ReceivedAt >= MaxWait)
            .OrderByDescending(g => g.Value.Max(p => p.Item.Priority))
            .ThenBy(g => g.Value[0].Sequence)
            .Select(g => (KeyValuePair<BatchKey, List<Pending>>?)g)
            .FirstOrDefault();
        return ready is { } group ? Cut(group.Key, group.Value) : null;
    }

    /// <summary>Takes every pending work item (the worker releases them when it stops); each tag once.</summary>
    public IReadOnlyList<T> TakeAll()
    {
        var tags = groups.Values.SelectMany(g => g).OrderBy(p => p.Sequence).Select(p => p.Tag).Distinct().ToList();
        groups.Clear();
        PendingImages = 0;
        return tags;
    }

    private SampleBatch<T> Cut(BatchKey key, List<Pending> group)
    {
        var entries = new List<BatchEntry<T>>();
        int room = MaxBatchImages;
        for (int i = 0; i < group.Count && room > 0;)
        {
            Pending pending = group[i];
            if (pending.Images.Count <= room)
            {
                entries.Add(new BatchEntry<T>(pending.Tag, pending.Item, pending.Images));
                room -= pending.Images.Count;
                group.RemoveAt(i);
            }
            else if (entries.Count == 0)
            {
                // Larger than a whole batch: split it; the rest stays first in line, as old as it was.
                entries.Add(new BatchEntry<T>(pending.Tag, pending.Item, pending.Images.Take(room).ToList()));
                group[i] = pending with { Images = pending.Images.Skip(room).ToList() };
                room = 0;
            }
            else
            {
                i++;   // does not fit beside what is taken; a smaller later item may
            }
        }

        if (group.Count == 0)
        {
            groups.Remove(key);
        }

        var batch = new SampleBatch<T>(key, entries);
        PendingImages -= batch.ImageCount;
        return batch;
    }

    private sealed record Pending(T Tag, WorkItem Item, IReadOnlyList<ImageRequest> Images, DateTimeOffset ReceivedAt, long Sequence);
}
