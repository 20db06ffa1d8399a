using System.Globalization;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Acceptance, serving: the worker schedules per forward pass. A 1-step job that arrives while a 64-image, 128-step
/// job is being drawn joins the next forward pass and is done long before the big job; it does not wait out the
/// big job's 128 passes. The test runs alone (<see cref="RunsAloneCollection"/>).
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed class ServingTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task AOneStepJobArrivingDuringA128StepJobFinishesWithinAFewPassesOfIt()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await TestModels.RegisterAsync(pipeline, TestModels.Slow, "slow");
        await SubmitAsync(pipeline, """{ "id": "big", "model": { "name": "slow" }, "classes": [ { "count": 64 } ], "steps": 128, "seed": 1 }""");
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline);
        await Wait.UntilAsync(async () => (await pipeline.Status.GetAsync("big"))!.State == JobState.Running, Wait.Long, () => Task.FromResult("big is not running"));

        await SubmitAsync(pipeline, """{ "id": "quick", "model": { "name": "slow" }, "items": [ { "label": 1 } ], "steps": 1, "priority": "high", "seed": 2 }""");
        IReadOnlyList<JobStatus> statuses = await Wait.ForJobsAsync(pipeline, ["big", "quick"]);

        Assert.All(statuses, s => Assert.Equal(JobState.Completed, s.State));
        JobStatus big = statuses[0], quick = statuses[1];
        TimeSpan bigDrawing = big.FinishedAt!.Value - big.StartedAt!.Value;
        TimeSpan quickLatency = quick.FinishedAt!.Value - quick.CreatedAt;
        Assert.True(quick.FinishedAt < big.FinishedAt, $"quick finished at {quick.FinishedAt:O}, big at {big.FinishedAt:O}");
        Assert.True(quickLatency < bigDrawing / 4, string.Create(CultureInfo.InvariantCulture,
            $"the 1-step job took {quickLatency.TotalSeconds:F2} s; the 128-step job was drawn in {bigDrawing.TotalSeconds:F2} s"));
    }

    [Fact]
    public async Task AJobArrivingRightAfterAnotherIsTakenWithinTheBusyPollNotTheIdleOne()
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, options =>
        {
            options.PollInterval = TimeSpan.FromSeconds(5);   // an idle worker asks the queue this seldom
            options.BusyPollInterval = TimeSpan.FromMilliseconds(100);
        });
        await Task.Delay(TimeSpan.FromSeconds(0.5));   // the worker has found the queue empty and waits for its next poll

        // The first job is taken at a poll of the idle worker, whose waits grow towards PollInterval; the one after it,
        // sent as soon as the first is done, is taken within the short poll of a worker that just had work (a worker
        // that waited PollInterval after every answer short of what it wanted took 4.8 s here).
        await SubmitAsync(pipeline, """{ "id": "first", "model": { "name": "tiny" }, "items": [ { "label": 1 } ], "steps": 1, "seed": 1 }""");
        Assert.Equal(JobState.Completed, (await Wait.ForJobsAsync(pipeline, ["first"]))[0].State);
        await SubmitAsync(pipeline, """{ "id": "second", "model": { "name": "tiny" }, "items": [ { "label": 2 } ], "steps": 1, "seed": 2 }""");
        JobStatus second = (await Wait.ForJobsAsync(pipeline, ["second"]))[0];

        Assert.Equal(JobState.Completed, second.State);
        TimeSpan latency = second.FinishedAt!.Value - second.CreatedAt;
        Assert.True(latency < TimeSpan.FromSeconds(2.5), string.Create(CultureInfo.InvariantCulture,
            $"the second job took {latency.TotalSeconds:F2} s from its submission to its image"));
    }

    private static async Task SubmitAsync(TestPipeline pipeline, string json)
    {
        IntakeResult result = await pipeline.Intake.SubmitAsync(json);
        Assert.True(result.Outcome == IntakeOutcome.Accepted, string.Join(" ", result.Reasons));
    }
}
