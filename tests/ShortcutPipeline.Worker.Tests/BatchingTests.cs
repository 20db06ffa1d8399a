using System.Globalization;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Acceptance, batching: 64 single-image jobs of mixed step budgets run as a few sampler batches, one budget
/// each, as the worker's own metrics show. The clock is manual, so batches are cut exactly when the test moves it.
/// </summary>
public sealed class BatchingTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly int[] Budgets = [1, 4, 16, 128];

    [Fact]
    public async Task SixtyFourSingleImageItemsOfMixedBudgetsRunAsOneBatchPerBudget()
    {
        var clock = new ManualTimeProvider();
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite, clock);
        var jobIds = new List<string>();
        for (int i = 0; i < 64; i++)
        {
            string id = string.Create(CultureInfo.InvariantCulture, $"single-{i}");
            string json = string.Create(CultureInfo.InvariantCulture,
                $$"""{ "id": "{{id}}", "model": { "name": "tiny" }, "items": [ { "label": {{i % 10}} } ], "steps": {{Budgets[i % Budgets.Length]}}, "seed": {{i}} }""");
            Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(json)).Outcome);
            jobIds.Add(id);
        }

        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, options => options.MaxBatchWait = TimeSpan.FromMinutes(1), clock);

        // Every item is received and waits for its batch; then the wait is over for all of them at once.
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().PendingImages == 64, Wait.Long,
            () => $"pending images: {worker.Metrics.Snapshot().PendingImages}");
        Assert.Equal(0, worker.Metrics.Snapshot().BatchCount);
        // Held messages are invisible but still on the queue: the depth counts them until they are deleted.
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().QueueDepth == 64, Wait.Long,
            () => $"queue depth: {worker.Metrics.Snapshot().QueueDepth}");
        clock.Advance(TimeSpan.FromMinutes(1));
        IReadOnlyList<JobStatus> statuses = await Wait.ForJobsAsync(pipeline, jobIds);
        // A batch is counted once all of it is stored, just after its jobs complete.
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().ImagesStored == 64, Wait.Long,
            () => $"images stored: {worker.Metrics.Snapshot().ImagesStored}");

        Assert.All(statuses, s => Assert.Equal(JobState.Completed, s.State));
        WorkerMetricsSnapshot metrics = worker.Metrics.Snapshot();
        Assert.Equal(4, metrics.BatchCount);
        Assert.Equal(Budgets, metrics.Batches.Select(b => b.Steps).Order());
        Assert.All(metrics.Batches, b => Assert.Equal((16, 16, 16, 0), (b.Images, b.WorkItems, b.ImagesStored, b.StoppedImages)));
        Assert.All(metrics.Batches, b => Assert.Equal(b.Steps, b.ForwardPasses));
        Assert.Equal(64, metrics.ImagesStored);
        Assert.Equal(Budgets.Sum(), metrics.ForwardPasses);
        Assert.True(metrics.ImagesPerSecond > 0);
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().QueueDepth == 0, Wait.Long,
            () => $"queue depth: {worker.Metrics.Snapshot().QueueDepth}");
    }
}
