using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Cancellation and deadlines reach the sampler between forward passes: the rows of a job cancelled (or past its
/// deadline) while it is being drawn stop, and the rows they shared passes with finish.
/// </summary>
public sealed class CancellationTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ACancelledJobsRowsStopBetweenPassesAndTheRowsBesideThemFinish()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await TestModels.RegisterAsync(pipeline, TestModels.Slow, "slow");
        await SubmitAsync(pipeline, "keep", null);
        await SubmitAsync(pipeline, "cancel-me", null);
        var logs = new TestLoggerProvider();
        using var gate = new PassGate(rows: 16);
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, logger: logs.CreateLogger<WorkerService>(), meters: gate);
        await gate.WaitUntilHeldAsync();   // both jobs' rows have shared a pass, and 127 steps are left
        await WaitUntilRunningAsync(pipeline, "cancel-me");

        Assert.Equal(CancelOutcome.Cancelled, (await pipeline.Status.CancelAsync("cancel-me")).Outcome);
        await Wait.UntilAsync(() => logs.Messages.Any(m => m.Message.Contains("cancel-me no longer wants images", StringComparison.Ordinal)),
            Wait.Long, () => "the worker did not see the cancel");
        gate.Release();
        Assert.Equal(JobState.Completed, (await Wait.ForJobsAsync(pipeline, ["keep"]))[0].State);
        await Wait.UntilAsync(() => worker.Metrics.Snapshot() is { ImagesStored: 8, StoppedRows: 8 }, Wait.Long,
            () => $"stored {worker.Metrics.Snapshot().ImagesStored}, stopped {worker.Metrics.Snapshot().StoppedRows}");

        JobStatus cancelled = (await pipeline.Status.GetAsync("cancel-me"))!;
        Assert.Equal((JobState.Cancelled, 0), (cancelled.State, cancelled.DoneImages));
        Assert.Empty(await StoredImages.ListAsync(pipeline, "cancel-me"));
        Assert.Contains(worker.Metrics.Snapshot().Passes, p => p.Rows == 16);   // they did share passes before the cancel
        await Wait.UntilAsync(async () => (await pipeline.Storage.WorkQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount == 0,
            Wait.Long, () => Task.FromResult("work items left on the queue"));
    }

    [Fact]
    public async Task AJobWhoseDeadlinePassesWhileItIsDrawnIsFailedWithTheReason()
    {
        var clock = new ManualTimeProvider();
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite, clock);
        await TestModels.RegisterAsync(pipeline, TestModels.Slow, "slow");
        await SubmitAsync(pipeline, "no-deadline", null);
        await SubmitAsync(pipeline, "in-a-hurry", clock.GetUtcNow().AddMinutes(30));
        using var gate = new PassGate(rows: 16);
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, time: clock, meters: gate);
        await gate.WaitUntilHeldAsync();
        await WaitUntilRunningAsync(pipeline, "in-a-hurry");

        clock.Advance(TimeSpan.FromHours(1));
        gate.Release();
        IReadOnlyList<JobStatus> statuses = await Wait.ForJobsAsync(pipeline, ["no-deadline", "in-a-hurry"]);

        Assert.Equal(JobState.Completed, statuses[0].State);
        JobStatus late = statuses[1];
        Assert.Equal(JobState.Failed, late.State);
        Assert.Contains("deadline", late.Error, StringComparison.Ordinal);
        Assert.Empty(await StoredImages.ListAsync(pipeline, "in-a-hurry"));
        await Wait.UntilAsync(() => worker.Metrics.Snapshot() is { ImagesStored: 8, StoppedRows: 8 }, Wait.Long,
            () => $"stored {worker.Metrics.Snapshot().ImagesStored}, stopped {worker.Metrics.Snapshot().StoppedRows}");
    }

    // Eight images at 128 steps of the slow model; the test holds the sampler after their first shared pass (a fast
    // machine draws them in less time than a cancel takes to reach the worker).
    private static async Task SubmitAsync(TestPipeline pipeline, string id, DateTimeOffset? deadline)
    {
        string deadlineProperty = deadline is { } d ? $""", "deadline": "{d.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}" """ : "";
        string json = $$"""{ "id": "{{id}}", "model": { "name": "slow" }, "classes": [ { "label": 2, "count": 8 } ], "steps": 128, "seed": 1{{deadlineProperty}} }""";
        IntakeResult result = await pipeline.Intake.SubmitAsync(json);
        Assert.True(result.Outcome == IntakeOutcome.Accepted, string.Join(" ", result.Reasons));
    }

    private static Task WaitUntilRunningAsync(TestPipeline pipeline, string id) => Wait.UntilAsync(
        async () => (await pipeline.Status.GetAsync(id))!.State == JobState.Running, Wait.Long, () => Task.FromResult($"{id} is not running"));
}
