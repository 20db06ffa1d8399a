using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>The step scheduler alone: which rows each forward pass takes, with time passed in.</summary>
public sealed class StepSchedulerTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static WorkItem Item(
        string job, int images, int steps = 4, string version = "v1", JobPriority priority = JobPriority.Normal, DateTimeOffset? deadline = null) => new()
    {
        JobId = job,
        Model = "m",
        ModelVersion = version,
        Steps = steps,
        Priority = priority,
        Deadline = deadline,
        Images = Enumerable.Range(0, images).Select(i => new ImageRequest(i, i % 10, 100 + i)).ToList(),
    };

    private static StepScheduler<string> Continuous(int rows, int? resident = null, int models = 2) =>
        new(SchedulingPolicy.Continuous, rows, resident ?? 2 * rows, models, TimeSpan.FromSeconds(2));

    // Runs a pass: every row in it takes a step; rows whose budget is used up finish. Returns the pass's tags.
    private static List<string> Run(StepScheduler<string> scheduler, Dictionary<ScheduledRow<string>, int> steps, DateTimeOffset? now = null)
    {
        PassPlan<string> plan = scheduler.NextPass(now ?? Start) ?? throw new Xunit.Sdk.XunitException("no pass");
        foreach (ScheduledRow<string> row in plan.Rows)
        {
            steps[row] = steps.GetValueOrDefault(row) + 1;
            if (steps[row] == row.Item.Steps)
            {
                scheduler.Finish(row);
            }
        }

        return plan.Rows.Select(r => r.Tag).ToList();
    }

    [Fact]
    public void RowsOfAnyBudgetShareAPassAndEachLeavesAfterItsOwnLastStep()
    {
        StepScheduler<string> scheduler = Continuous(rows: 8);
        scheduler.Add("one", Item("a", 2, steps: 1), Start);
        scheduler.Add("four", Item("b", 2, steps: 4), Start);
        scheduler.Add("two", Item("c", 3, steps: 2), Start);
        var steps = new Dictionary<ScheduledRow<string>, int>();

        Assert.Equal(["one", "one", "four", "four", "two", "two", "two"], Run(scheduler, steps));
        Assert.Equal(["four", "four", "two", "two", "two"], Run(scheduler, steps));
        Assert.Equal(["four", "four"], Run(scheduler, steps));
        Assert.Equal(["four", "four"], Run(scheduler, steps));
        Assert.True(scheduler.IsEmpty);
        Assert.Null(scheduler.NextPass(Start));
    }

    [Fact]
    public void WaitingRowsJoinAsSoonAsRowsLeaveUpToTheRowLimit()
    {
        StepScheduler<string> scheduler = Continuous(rows: 4);
        scheduler.Add("long", Item("a", 3, steps: 128), Start);
        scheduler.Add("short", Item("b", 3, steps: 1), Start);
        var steps = new Dictionary<ScheduledRow<string>, int>();

        PassPlan<string> first = scheduler.NextPass(Start)!;
        Assert.Equal(4, first.Rows.Count);
        Assert.Equal(4, first.Starting.Count);
        Assert.Equal(2, scheduler.WaitingRows);
        foreach (ScheduledRow<string> row in first.Rows)
        {
            steps[row] = 1;
            if (row.Item.Steps == 1)
            {
                scheduler.Finish(row);
            }
        }

        // The short row that ran leaves; the two short ones waiting take its place and one more, the long ones go on.
        PassPlan<string> second = scheduler.NextPass(Start)!;
        Assert.Equal(["long", "long", "long", "short"], second.Rows.Select(r => r.Tag));
        Assert.Equal(["short"], second.Starting.Select(r => r.Tag));
        Assert.Equal(1, scheduler.WaitingRows);
    }

    [Fact]
    public void HigherPriorityAndEarlierDeadlinesGoFirstAndAStartedRowOfLowerPrioritySitsAPassOut()
    {
        StepScheduler<string> scheduler = Continuous(rows: 2, resident: 4);
        scheduler.Add("old", Item("a", 2, steps: 8), Start);
        var steps = new Dictionary<ScheduledRow<string>, int>();
        Assert.Equal(["old", "old"], Run(scheduler, steps));

        scheduler.Add("late", Item("b", 1, steps: 8, deadline: Start.AddHours(2)), Start);
        scheduler.Add("urgent", Item("c", 1, steps: 1, priority: JobPriority.High), Start);
        scheduler.Add("soon", Item("d", 1, steps: 8, deadline: Start.AddHours(1)), Start);

        Assert.Equal(["urgent", "soon"], Run(scheduler, steps));
        Assert.Equal(["soon", "late"], Run(scheduler, steps));
        Assert.Equal(4, scheduler.ResidentRows);   // two "old" rows sit out, started, their state kept
        Assert.Equal(0, scheduler.WaitingRows);
    }

    [Fact]
    public void AtEqualPriorityStartedRowsKeepTheirPlaceAndNewRowsWait()
    {
        StepScheduler<string> scheduler = Continuous(rows: 2, resident: 4);
        scheduler.Add("first", Item("a", 2, steps: 4), Start);
        var steps = new Dictionary<ScheduledRow<string>, int>();
        Assert.Equal(["first", "first"], Run(scheduler, steps));
        scheduler.Add("second", Item("b", 2, steps: 1), Start);

        Assert.Equal(["first", "first"], Run(scheduler, steps));
        Assert.Equal(2, scheduler.WaitingRows);
    }

    [Fact]
    public void APassHoldsOneModelVersionAndAtMostMaxModelsHaveStartedRows()
    {
        StepScheduler<string> scheduler = Continuous(rows: 8, models: 1);
        scheduler.Add("v1", Item("a", 2, steps: 2), Start);
        scheduler.Add("v2", Item("b", 2, steps: 1, version: "v2"), Start);
        var steps = new Dictionary<ScheduledRow<string>, int>();

        Assert.Equal(["v1", "v1"], Run(scheduler, steps));
        Assert.Equal([new ModelKey("m", "v1")], scheduler.ResidentModels);
        Assert.Equal(["v1", "v1"], Run(scheduler, steps));   // v2 waits: one model version at a time
        Assert.Equal(["v2", "v2"], Run(scheduler, steps));
    }

    [Fact]
    public void DroppedRowsLeaveWhereverTheyAreAndStoppingHandsBackOnlyItemsThatDidNotStart()
    {
        StepScheduler<string> scheduler = Continuous(rows: 2);
        scheduler.Add("started", Item("a", 3, steps: 4), Start);
        scheduler.Add("cancelled", Item("b", 1, steps: 4), Start);
        scheduler.Add("untouched", Item("c", 2, steps: 4), Start);
        var steps = new Dictionary<ScheduledRow<string>, int>();
        Assert.Equal(["started", "started"], Run(scheduler, steps));

        Assert.Single(scheduler.RemoveWhere(r => r.Tag == "cancelled"));
        Assert.Equal(["untouched"], scheduler.TakeUnstarted());
        Assert.Equal(1, scheduler.WaitingRows);   // the third row of "started": it is finished, not handed back
        Assert.Equal(2, scheduler.ResidentRows);
    }

    [Fact]
    public void RowsWhosePassCouldNotRunWaitAgainInTheirOrder()
    {
        StepScheduler<string> scheduler = Continuous(rows: 2);
        scheduler.Add("first", Item("a", 2, steps: 4), Start);
        PassPlan<string> plan = scheduler.NextPass(Start)!;
        Assert.Equal(2, scheduler.ResidentRows);

        scheduler.Unstart(plan.Starting);   // e.g. the model could not be downloaded while storage was unreachable

        Assert.Equal((0, 2), (scheduler.ResidentRows, scheduler.WaitingRows));
        Assert.Equal(["first"], scheduler.TakeUnstarted());
    }

    [Fact]
    public void TheBudgetBatchBaselineRunsABatchOfOneBudgetToItsEndBeforeTheNext()
    {
        var scheduler = new StepScheduler<string>(SchedulingPolicy.BudgetBatches, 64, 128, 2, TimeSpan.FromSeconds(2));
        scheduler.Add("one", Item("a", 2, steps: 1), Start);
        scheduler.Add("two", Item("b", 2, steps: 2), Start.AddSeconds(1));
        scheduler.Add("urgent", Item("c", 1, steps: 2, priority: JobPriority.High), Start.AddSeconds(1.5));
        var steps = new Dictionary<ScheduledRow<string>, int>();

        Assert.Null(scheduler.NextPass(Start.AddSeconds(1.9)));
        Assert.Equal(Start.AddSeconds(2), scheduler.NextDueAt);
        DateTimeOffset later = Start.AddSeconds(4);
        // The 2-step group holds the high-priority item: it goes first, and runs both its steps before the 1-step one.
        Assert.Equal(["two", "two", "urgent"], Run(scheduler, steps, later));
        scheduler.Add("two-more", Item("d", 1, steps: 2), later);
        Assert.Equal(["two", "two", "urgent"], Run(scheduler, steps, later));
        Assert.Equal(["one", "one"], Run(scheduler, steps, later));
        Assert.Null(scheduler.NextPass(later));   // "two-more" waits for its batch
        Assert.Equal(["two-more"], Run(scheduler, steps, later.AddSeconds(2)));
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Continuous(rows: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Continuous(rows: 4, resident: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Continuous(rows: 4, models: 0));
        Assert.Throws<ArgumentException>(() => Continuous(rows: 4).Add("empty", Item("empty", 1) with { Images = [] }, Start));
    }
}
