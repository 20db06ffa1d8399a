using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Model;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Cancellation and deadlines reach a batch between sampler steps: the rows of a job cancelled (or past its
/// deadline) after its work item was received are stopped, and the other rows of the batch finish.
/// </summary>
public sealed class CancellationTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ACancelledJobsRowsAreStoppedAndTheRestOfTheBatchFinishes()
    {
        var clock = new ManualTimeProvider();
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite, clock);
        await SubmitAsync(pipeline, "keep", null);
        await SubmitAsync(pipeline, "cancel-me", null);
        await using InProcessWorker worker = await StartHeldAsync(pipeline, clock);

        Assert.Equal(CancelOutcome.Cancelled, (await pipeline.Status.CancelAsync("cancel-me")).Outcome);
        clock.Advance(TimeSpan.FromHours(1));
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().BatchCount == 1, Wait.Long, () => "no batch ran");

        BatchRecord batch = Assert.Single(worker.Metrics.Snapshot().Batches);
        Assert.Equal((6, 3, 3), (batch.Images, batch.ImagesStored, batch.StoppedImages));
        Assert.Equal(JobState.Completed, (await pipeline.Status.GetAsync("keep"))!.State);
        JobStatus cancelled = (await pipeline.Status.GetAsync("cancel-me"))!;
        Assert.Equal((JobState.Cancelled, 0), (cancelled.State, cancelled.DoneImages));
        Assert.Empty(await StoredImages.ListAsync(pipeline, "cancel-me"));
        Assert.Equal(0, (await pipeline.Storage.WorkQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }

    [Fact]
    public async Task AJobWhoseDeadlinePassesBeforeItsStepsIsFailedWithTheReason()
    {
        var clock = new ManualTimeProvider();
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite, clock);
        await SubmitAsync(pipeline, "no-deadline", null);
        await SubmitAsync(pipeline, "in-a-hurry", clock.GetUtcNow().AddMinutes(30));
        await using InProcessWorker worker = await StartHeldAsync(pipeline, clock);

        clock.Advance(TimeSpan.FromHours(1));
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().BatchCount == 1, Wait.Long, () => "no batch ran");

        BatchRecord batch = Assert.Single(worker.Metrics.Snapshot().Batches);
        Assert.Equal((3, 3), (batch.ImagesStored, batch.StoppedImages));
        Assert.Equal(JobState.Completed, (await pipeline.Status.GetAsync("no-deadline"))!.State);
        JobStatus late = (await pipeline.Status.GetAsync("in-a-hurry"))!;
        Assert.Equal(JobState.Failed, late.State);
        Assert.Contains("deadline", late.Error, StringComparison.Ordinal);
        Assert.Empty(await StoredImages.ListAsync(pipeline, "in-a-hurry"));
    }

    [Fact]
    public async Task TheSamplingServiceStopsRowsBetweenStepsAndCountsTheStepsThatRan()
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        using var modelCache = new TempDirectory("worker-cache-");
        using var sampling = new SamplingService(pipeline.Registry, InProcessWorker.TestOptions(modelCache.Path));
        LoadedModel model = await sampling.GetModelAsync("tiny", "v1");
        SampleRequest[] requests = [new(1, 16, 1, 1), new(2, 16, 1, 2), new(3, 4, 1, 3)];

        // Row 0 is stopped before step 5; row 2 finishes its 4 steps first; row 1 runs all 16.
        SampledImages sampled = await sampling.SampleAsync(model, requests, step => step >= 5 ? [0] : []);

        Assert.Equal([false, true, true], sampled.Completed);
        Assert.Equal(16, sampled.ForwardPasses);
        SampledImages none = await sampling.SampleAsync(model, requests, _ => [0, 1, 2]);
        Assert.Equal([false, false, false], none.Completed);
        Assert.Equal(0, none.ForwardPasses);
    }

    private static async Task SubmitAsync(TestPipeline pipeline, string id, DateTimeOffset? deadline)
    {
        string deadlineProperty = deadline is { } d ? $""", "deadline": "{d.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}" """ : "";
        string json = $$"""{ "id": "{{id}}", "model": { "name": "tiny" }, "classes": [ { "label": 2, "count": 3 } ], "steps": 8, "seed": 1{{deadlineProperty}} }""";
        IntakeResult result = await pipeline.Intake.SubmitAsync(json);
        Assert.True(result.Outcome == IntakeOutcome.Accepted, string.Join(" ", result.Reasons));
    }

    // A worker that receives both jobs and holds them (the manual clock does not move) until the test advances it.
    private static async Task<InProcessWorker> StartHeldAsync(TestPipeline pipeline, ManualTimeProvider clock)
    {
        InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, options => options.MaxBatchWait = TimeSpan.FromMinutes(10), clock);
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().PendingImages == 6, Wait.Long,
            () => $"pending images: {worker.Metrics.Snapshot().PendingImages}");
        return worker;
    }
}
