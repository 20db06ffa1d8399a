using System.Globalization;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Acceptance, batching: 64 single-image jobs of mixed step budgets. The step scheduler puts rows of every budget into
/// the same forward passes and lets each leave after its own last step; the budget-keyed baseline runs one batch per
/// budget. The worker's own metrics show which.
/// </summary>
public sealed class BatchingTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly int[] Budgets = [1, 4, 16, 128];

    // Each row is in exactly as many passes as its budget has steps, whatever shares them.
    private static readonly int RowPasses = 16 * Budgets.Sum();

    [Fact]
    public async Task SixtyFourSingleImageItemsOfMixedBudgetsShareForwardPassesAndLeaveAfterTheirOwnLastStep()
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        IReadOnlyList<string> jobIds = await SubmitAsync(pipeline);

        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline);
        IReadOnlyList<JobStatus> statuses = await Wait.ForJobsAsync(pipeline, jobIds);
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().ImagesStored == 64, Wait.Long,
            () => $"images stored: {worker.Metrics.Snapshot().ImagesStored}");

        Assert.All(statuses, s => Assert.Equal(JobState.Completed, s.State));
        WorkerMetricsSnapshot metrics = worker.Metrics.Snapshot();
        Assert.Equal(RowPasses, metrics.RowsInPasses);
        Assert.InRange(metrics.ForwardPasses, 128, Budgets.Sum() - 1);   // fewer than one batch per budget would take
        Assert.Contains(metrics.Passes, p => p.Budgets.SequenceEqual(Budgets));
        Assert.All(metrics.Passes, p => Assert.InRange(p.Rows, 1, 64));
        // A row leaves with its last step: every 1-step job is done before any 128-step one.
        DateTimeOffset lastOneStep = statuses.Where(s => s.Steps == 1).Max(s => s.FinishedAt!.Value);
        DateTimeOffset firstLongest = statuses.Where(s => s.Steps == 128).Min(s => s.FinishedAt!.Value);
        Assert.True(lastOneStep < firstLongest, $"last 1-step job done at {lastOneStep:O}, first 128-step one at {firstLongest:O}");
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().QueueDepth == 0, Wait.Long,
            () => $"queue depth: {worker.Metrics.Snapshot().QueueDepth}");
    }

    [Fact]
    public async Task TheBudgetKeyedBaselineRunsOneBatchPerBudget()
    {
        var clock = new ManualTimeProvider();
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite, clock);
        IReadOnlyList<string> jobIds = await SubmitAsync(pipeline);
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, options =>
        {
            options.Scheduling = SchedulingPolicy.BudgetBatches;
            options.MaxBatchWait = TimeSpan.FromMinutes(1);
            options.MaxPendingImages = 64;
        }, clock);

        // Every item is received and waits for its batch; then the wait is over for all of them at once.
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().WaitingRows == 64, Wait.Long,
            () => $"waiting rows: {worker.Metrics.Snapshot().WaitingRows}");
        Assert.Equal(0, worker.Metrics.Snapshot().ForwardPasses);
        // Held messages are invisible but still on the queue: the depth counts them until they are deleted.
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().QueueDepth == 64, Wait.Long,
            () => $"queue depth: {worker.Metrics.Snapshot().QueueDepth}");
        clock.Advance(TimeSpan.FromMinutes(1));
        IReadOnlyList<JobStatus> statuses = await Wait.ForJobsAsync(pipeline, jobIds);
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().ImagesStored == 64, Wait.Long,
            () => $"images stored: {worker.Metrics.Snapshot().ImagesStored}");

        Assert.All(statuses, s => Assert.Equal(JobState.Completed, s.State));
        WorkerMetricsSnapshot metrics = worker.Metrics.Snapshot();
        Assert.Equal(Budgets.Sum(), metrics.ForwardPasses);
        Assert.Equal(RowPasses, metrics.RowsInPasses);
        Assert.All(metrics.Passes, p => Assert.Single(p.Budgets));
        List<PassRecord> batchStarts = metrics.Passes.Where(p => p.StartedRows > 0).ToList();
        Assert.Equal(Budgets, batchStarts.Select(p => p.Budgets[0]).Order());
        Assert.All(batchStarts, p => Assert.Equal((16, 16), (p.Rows, p.StartedRows)));
        Assert.True(metrics.ImagesPerSecond > 0);
    }

    private static async Task<IReadOnlyList<string>> SubmitAsync(TestPipeline pipeline)
    {
        var jobIds = new List<string>();
        for (int i = 0; i < 64; i++)
        {
            string id = string.Create(CultureInfo.InvariantCulture, $"single-{i}");
            string json = string.Create(CultureInfo.InvariantCulture,
                $$"""{ "id": "{{id}}", "model": { "name": "tiny" }, "items": [ { "label": {{i % 10}} } ], "steps": {{Budgets[i % Budgets.Length]}}, "seed": {{i}} }""");
            Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(json)).Outcome);
            jobIds.Add(id);
        }

        return jobIds;
    }
}
