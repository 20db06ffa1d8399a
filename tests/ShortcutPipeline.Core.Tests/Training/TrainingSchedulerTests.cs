using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Training;

public sealed class TrainingSchedulerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Request = """{ "model": "fashion", "preset": "DiT-Small/4", "dataset": "blob:fashion", "steps": 500 }""";

    [Fact]
    public async Task WithoutAConfiguredRequestNothingIsLaunched()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);

        ScheduleDecision decision = await training.Scheduler.RunAsync();

        Assert.False(decision.Launch);
        Assert.Contains("Training:Request is empty", decision.Reason, StringComparison.Ordinal);
        Assert.Empty(await training.PeekTrainingQueueAsync());
    }

    [Fact]
    public async Task TheSchedulerLaunchesFirstWaitsWhileQueuedAndThenUntilTheIntervalPasses()
    {
        var clock = new ManualTimeProvider();
        TestTraining training = await TestTraining.CreateAsync(azurite, clock, new TrainingScheduleOptions { Request = Request, Interval = TimeSpan.FromDays(7) });

        ScheduleDecision first = await training.Scheduler.RunAsync();
        ScheduleDecision whileQueued = await training.Scheduler.RunAsync();
        await SucceedAsync(training, first.Launched!.RunId);
        clock.Advance(TimeSpan.FromDays(6));
        ScheduleDecision upToDate = await training.Scheduler.RunAsync();
        clock.Advance(TimeSpan.FromDays(1));
        ScheduleDecision due = await training.Scheduler.RunAsync();

        Assert.True(first.Launch);
        Assert.Equal("Model fashion has no successful training run yet.", first.Reason);
        Assert.Equal((LaunchOutcome.Launched, TrainingTrigger.Schedule), (first.Launched.Outcome, first.Launched.Run.Trigger));
        Assert.False(whileQueued.Launch);
        Assert.StartsWith($"Run {first.Launched.RunId} of model fashion is queued", whileQueued.Reason, StringComparison.Ordinal);
        Assert.False(upToDate.Launch);
        Assert.StartsWith("Model fashion is up to date", upToDate.Reason, StringComparison.Ordinal);
        Assert.True(due.Launch);
        Assert.Contains("a run is due", due.Reason, StringComparison.Ordinal);
        Assert.NotEqual(first.Launched.RunId, due.Launched!.RunId);
        Assert.Equal(2, (await training.PeekTrainingQueueAsync()).Count);
    }

    [Fact]
    public async Task AChangedConfigurationOrDatasetLaunchesARun()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite, scheduleOptions: new TrainingScheduleOptions { Request = Request });
        await SucceedAsync(training, (await training.Scheduler.RunAsync()).Launched!.RunId);

        training.ScheduleOptions.Request = Request.Replace("500", "800", StringComparison.Ordinal);
        ScheduleDecision configurationChanged = await training.Scheduler.RunAsync();
        await SucceedAsync(training, configurationChanged.Launched!.RunId);
        ScheduleDecision unchanged = await training.Scheduler.RunAsync();
        await training.Storage.DatasetsContainer.UploadBlobAsync("fashion/boot/1.png", BinaryData.FromString("new image"));
        ScheduleDecision datasetChanged = await training.Scheduler.RunAsync();

        Assert.True(configurationChanged.Launch);
        Assert.StartsWith("The training configuration changed since run", configurationChanged.Reason, StringComparison.Ordinal);
        Assert.False(unchanged.Launch);
        Assert.True(datasetChanged.Launch);
        Assert.StartsWith("The dataset blob:fashion changed since run", datasetChanged.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedConfigurationWaitsForTheIntervalAndAStaleRunNoLongerBlocks()
    {
        var clock = new ManualTimeProvider();
        var options = new TrainingScheduleOptions { Request = Request, Interval = TimeSpan.FromDays(7), StaleAfter = TimeSpan.FromHours(12) };
        TestTraining training = await TestTraining.CreateAsync(azurite, clock, options);
        string failed = (await training.Scheduler.RunAsync()).Launched!.RunId;
        await training.Runs.MarkFailedAsync(failed, ["Unknown model preset"]);

        ScheduleDecision afterFailure = await training.Scheduler.RunAsync();
        clock.Advance(TimeSpan.FromDays(7));
        ScheduleDecision retry = await training.Scheduler.RunAsync();
        await training.Runs.MarkRunningAsync(retry.Launched!.RunId, "trainer-that-died", resumedFromStep: null);
        clock.Advance(TimeSpan.FromHours(13));
        ScheduleDecision afterStale = await training.Scheduler.RunAsync();

        Assert.False(afterFailure.Launch);
        Assert.StartsWith($"Run {failed} with this configuration and dataset failed", afterFailure.Reason, StringComparison.Ordinal);
        Assert.True(retry.Launch);
        Assert.True(afterStale.Launch);
    }

    [Theory]
    [InlineData("""{ "model": "fashion", "steps": -1 }""", "is not a valid training request: $.preset is required")]
    [InlineData("""{ "runId": "fixed", "model": "fashion", "preset": "DiT-Small/4", "dataset": "fashion-mnist", "steps": 5 }""", "must not have a runId")]
    public async Task AMisconfiguredRequestThrowsWithTheReason(string request, string message)
    {
        TestTraining training = await TestTraining.CreateAsync(azurite, scheduleOptions: new TrainingScheduleOptions { Request = request });

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => training.Scheduler.RunAsync());

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private static async Task SucceedAsync(TestTraining training, string runId)
    {
        await training.Runs.MarkRunningAsync(runId, "test", resumedFromStep: null);
        await training.Runs.MarkSucceededAsync(runId);
    }
}
