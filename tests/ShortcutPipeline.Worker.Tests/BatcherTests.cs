using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Worker.Tests;

public sealed class BatcherTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static WorkItem Item(string job, int images, int steps = 4, string version = "v1", JobPriority priority = JobPriority.Normal) => new()
    {
        JobId = job,
        Model = "m",
        ModelVersion = version,
        Steps = steps,
        Priority = priority,
        Images = Enumerable.Range(0, images).Select(i => new ImageRequest(i, i % 10, 100 + i)).ToList(),
    };

    [Fact]
    public void NothingIsReadyBeforeTheBatchIsFullOrTheWaitIsOver()
    {
        var batcher = new Batcher<string>(maxBatchImages: 8, TimeSpan.FromSeconds(2));
        batcher.Add("a", Item("a", 3), Start);
        batcher.Add("b", Item("b", 4), Start.AddSeconds(1));

        Assert.Null(batcher.TakeReady(Start.AddSeconds(1.9)));
        Assert.Equal(7, batcher.PendingImages);
        Assert.Equal(Start.AddSeconds(2), batcher.NextDueAt);

        SampleBatch<string>? batch = batcher.TakeReady(Start.AddSeconds(2));
        Assert.NotNull(batch);
        Assert.Equal(["a", "b"], batch.Entries.Select(e => e.Tag));
        Assert.Equal(7, batch.ImageCount);
        Assert.Equal(0, batcher.PendingImages);
        Assert.Null(batcher.NextDueAt);
    }

    [Fact]
    public void AFullGroupIsReadyAtOnceAndKeepsWhatDoesNotFitForLater()
    {
        var batcher = new Batcher<string>(maxBatchImages: 8, TimeSpan.FromMinutes(1));
        batcher.Add("a", Item("a", 5), Start);
        batcher.Add("b", Item("b", 5), Start);
        batcher.Add("c", Item("c", 3), Start);

        SampleBatch<string>? batch = batcher.TakeReady(Start);

        // b does not fit beside a, c does; no item is split.
        Assert.NotNull(batch);
        Assert.Equal(["a", "c"], batch.Entries.Select(e => e.Tag));
        Assert.Equal(8, batch.ImageCount);
        Assert.All(batch.Entries, e => Assert.Equal(e.Item.Images, e.Images));
        Assert.Null(batcher.TakeReady(Start));
        Assert.Equal(["b"], batcher.TakeReady(Start.AddMinutes(1))!.Entries.Select(e => e.Tag));
    }

    [Fact]
    public void BatchesHoldOneStepBudgetAndOneModelVersion()
    {
        var batcher = new Batcher<string>(maxBatchImages: 64, TimeSpan.FromSeconds(1));
        batcher.Add("1-step", Item("a", 2, steps: 1), Start);
        batcher.Add("4-steps", Item("b", 2, steps: 4), Start);
        batcher.Add("1-step-again", Item("c", 2, steps: 1), Start);
        batcher.Add("1-step-v2", Item("d", 2, steps: 1, version: "v2"), Start);

        var batches = new List<SampleBatch<string>>();
        while (batcher.TakeReady(Start.AddSeconds(1)) is { } batch)
        {
            batches.Add(batch);
        }

        Assert.Equal(3, batches.Count);
        Assert.All(batches, b => Assert.All(b.Entries, e => Assert.Equal(b.Key, BatchKey.Of(e.Item))));
        Assert.Equal(["1-step", "1-step-again"], batches.Single(b => b.Key == new BatchKey("m", "v1", 1)).Entries.Select(e => e.Tag));
        Assert.Equal(["4-steps"], batches.Single(b => b.Key.Steps == 4).Entries.Select(e => e.Tag));
        Assert.Equal(["1-step-v2"], batches.Single(b => b.Key.ModelVersion == "v2").Entries.Select(e => e.Tag));
    }

    [Fact]
    public void AnItemLargerThanABatchIsSplitIntoSlicesInOrder()
    {
        var batcher = new Batcher<string>(maxBatchImages: 4, TimeSpan.FromSeconds(1));
        batcher.Add("big", Item("big", 10), Start);
        batcher.Add("small", Item("small", 2), Start);

        var batches = new List<SampleBatch<string>>();
        while (batcher.TakeReady(Start) is { } batch)
        {
            batches.Add(batch);
        }

        // Two full slices of "big", then its last two images fill a batch with "small".
        Assert.Equal([4, 4, 4], batches.Select(b => b.ImageCount));
        Assert.Equal(Enumerable.Range(0, 10), batches.SelectMany(b => b.Entries).Where(e => e.Tag == "big").SelectMany(e => e.Images).Select(i => i.Index));
        Assert.Equal(["big", "small"], batches[2].Entries.Select(e => e.Tag));
        Assert.Equal([8, 9], batches[2].Entries[0].Images.Select(i => i.Index));
        Assert.Equal(0, batcher.PendingImages);
    }

    [Fact]
    public void AmongReadyGroupsHighPriorityGoesFirstThenTheOldest()
    {
        var batcher = new Batcher<string>(maxBatchImages: 64, TimeSpan.FromSeconds(1));
        batcher.Add("old", Item("a", 1, steps: 1), Start);
        batcher.Add("newer", Item("b", 1, steps: 2), Start.AddSeconds(0.5));
        batcher.Add("urgent", Item("c", 1, steps: 4, priority: JobPriority.High), Start.AddSeconds(0.7));

        DateTimeOffset later = Start.AddSeconds(2);
        Assert.Equal(["urgent", "old", "newer"],
            new[] { batcher.TakeReady(later), batcher.TakeReady(later), batcher.TakeReady(later) }.Select(b => b!.Entries[0].Tag));
    }

    [Fact]
    public void TakeAllHandsBackEachPendingItemOnce()
    {
        var batcher = new Batcher<string>(maxBatchImages: 4, TimeSpan.FromSeconds(1));
        batcher.Add("big", Item("big", 10), Start);
        batcher.Add("other", Item("other", 1, steps: 8), Start);
        Assert.NotNull(batcher.TakeReady(Start));   // a slice of "big" is taken

        Assert.Equal(["big", "other"], batcher.TakeAll());
        Assert.Equal(0, batcher.PendingImages);
        Assert.Null(batcher.TakeReady(Start.AddHours(1)));
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Batcher<string>(0, TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Batcher<string>(4, TimeSpan.FromSeconds(-1)));
        var batcher = new Batcher<string>(4, TimeSpan.Zero);
        Assert.Throws<ArgumentException>(() => batcher.Add("empty", Item("empty", 1) with { Images = [] }, Start));
    }
}
