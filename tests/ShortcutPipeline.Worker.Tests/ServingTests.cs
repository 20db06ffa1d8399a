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

    private static async Task SubmitAsync(TestPipeline pipeline, string json)
    {
        IntakeResult result = await pipeline.Intake.SubmitAsync(json);
        Assert.True(result.Outcome == IntakeOutcome.Accepted, string.Join(" ", result.Reasons));
    }
}
