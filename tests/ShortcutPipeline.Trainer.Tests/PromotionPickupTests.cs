using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;
using ShortcutPipeline.Worker.Tests;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>
/// Promotion end to end: a running worker serves a model that a training run promoted after the worker started,
/// without a restart, and a job pinned to the earlier version keeps it.
/// </summary>
public sealed class PromotionPickupTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ARunningWorkerPicksUpThePromotedModelAndPinnedJobsKeepTheirVersion()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        TestPipeline pipeline = TestPipeline.Over(context.Storage);

        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("first", steps: 4, checkpointEvery: 4), TrainingTrigger.Manual);
        Assert.Equal(TrainingMessageOutcome.Succeeded, await context.Consumer.RunOnceAsync());
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline);
        Assert.Equal("first-step-4", await ModelVersionOfAsync(pipeline, "before", version: null));

        // A second run finishes while the worker keeps running.
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("second", steps: 4, checkpointEvery: 4), TrainingTrigger.Manual);
        Assert.Equal(TrainingMessageOutcome.Succeeded, await context.Consumer.RunOnceAsync());
        Assert.Equal("second-step-4", (await context.LatestAsync())!.Manifest.Version);

        Assert.Equal("second-step-4", await ModelVersionOfAsync(pipeline, "after", version: null));
        Assert.Equal("first-step-4", await ModelVersionOfAsync(pipeline, "pinned", version: "first-step-4"));
        Assert.Contains((TrainerTestContext.Model, "second-step-4"), worker.Sampling.LoadedVersions);
    }

    // Submits a one-image job (unpinned when version is null), waits for it, and reads the model version from the PNG.
    private static async Task<string> ModelVersionOfAsync(TestPipeline pipeline, string jobId, string? version)
    {
        string model = version is null ? $$"""{ "name": "{{TrainerTestContext.Model}}" }""" : $$"""{ "name": "{{TrainerTestContext.Model}}", "version": "{{version}}" }""";
        IntakeResult result = await pipeline.Intake.SubmitAsync($$"""{ "id": "{{jobId}}", "model": {{model}}, "classes": [ { "label": 1, "count": 1 } ], "steps": 2 }""");
        Assert.Equal(IntakeOutcome.Accepted, result.Outcome);
        JobStatus status = (await Wait.ForJobsAsync(pipeline, [jobId]))[0];
        Assert.Equal(JobState.Completed, status.State);
        return PngWriter.ReadTextChunks(await StoredImages.ReadAsync(pipeline, jobId, 0))["modelVersion"];
    }
}
