using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>Promotion on a quality bar: every checkpoint that meets it is promoted as it is written; a run that never meets it promotes nothing.</summary>
public sealed class QualityPromotionTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private const string Policy = """, "promotion": { "budget": 1, "maxFrechetDistance": {0}, "samples": 20, "classifierSteps": 20 }""";

    [Fact]
    public async Task CheckpointsThatMeetTheBarArePromotedAsTheyAreWritten()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);

        TrainingRun run = await TrainAsync(context, "good", maxFrechetDistance: "1e12");

        Assert.Equal("good-step-4", run.PromotedVersion);
        Assert.True(double.IsFinite(run.Metrics["fd@1"]));
        Assert.True(run.Metrics["bestFd@1"] <= run.Metrics["fd@1"]);
        Assert.Equal("good-step-4", (await context.LatestAsync())!.Manifest.Version);
        // The first checkpoint was promoted when it was written (the final one alone is registered otherwise).
        Assert.True((await context.Training.Registry.GetVersionAsync("fashion", "good-step-2"))!.Metrics!.ContainsKey("fd@1"));
        Assert.Contains(TrainingBlobNames.QualityClassifierFileName, await context.RunBlobsAsync("good"));
    }

    [Fact]
    public async Task ARunThatNeverMeetsTheBarSucceedsWithoutPromotionAndSaysWhy()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);

        TrainingRun run = await TrainAsync(context, "poor", maxFrechetDistance: "1e-9");

        Assert.Equal(TrainingRunState.Succeeded, run.State);
        Assert.Null(run.PromotedVersion);
        Assert.StartsWith("No checkpoint met the promotion bar: the best Fréchet distance at 1 steps was", run.PromotionNote, StringComparison.Ordinal);
        Assert.Null(await context.LatestAsync());
        Assert.NotNull(await context.Training.Registry.GetVersionAsync("fashion", "poor-step-4"));
        Assert.Null(await context.Training.Registry.GetVersionAsync("fashion", "poor-step-2"));
    }

    // Trains 4 steps with a checkpoint every 2 under a bar at budget 1; the run must succeed.
    private static async Task<TrainingRun> TrainAsync(TrainerTestContext context, string runId, string maxFrechetDistance)
    {
        string policy = Policy.Replace("{0}", maxFrechetDistance, StringComparison.Ordinal);
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest(runId, steps: 4, checkpointEvery: 2, policy), TrainingTrigger.Manual);
        Assert.Equal(TrainingMessageOutcome.Succeeded, await context.Consumer.RunOnceAsync());
        return (await context.Training.Runs.GetAsync(runId))!;
    }
}
