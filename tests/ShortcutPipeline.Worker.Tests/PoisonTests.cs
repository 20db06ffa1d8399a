using Azure.Storage.Queues.Models;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>Messages that keep failing, or can never succeed, end on the poison queue with the reason, and their jobs fail.</summary>
public sealed class PoisonTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task AWorkItemWhoseCheckpointIsCorruptIsRetriedThenPoisonedAndItsJobFails()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("broken", "v1");   // its checkpoint file is a few bytes of text
        IntakeResult job = await pipeline.Intake.SubmitAsync("""{ "id": "doomed", "model": { "name": "broken" }, "classes": [ { "count": 2 } ], "steps": 2 }""");
        Assert.Equal(IntakeOutcome.Accepted, job.Outcome);
        string workItem = (await pipeline.Storage.WorkQueue.PeekMessageAsync()).Value.Body.ToString();

        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, options => options.MaxDequeueCount = 3);
        JobStatus status = (await Wait.ForJobsAsync(pipeline, ["doomed"]))[0];

        Assert.Equal(JobState.Failed, status.State);
        Assert.Contains("poison", status.Error, StringComparison.Ordinal);
        Assert.Contains("cannot be loaded", status.Error, StringComparison.Ordinal);
        PoisonMessage poisoned = await SinglePoisonMessageAsync(pipeline);
        Assert.Equal(workItem, poisoned.Message);
        Assert.Equal(3, poisoned.DequeueCount);
        Assert.Contains("Failed on each of 3 deliveries", poisoned.Reason, StringComparison.Ordinal);
        Assert.Contains("broken v1 cannot be loaded", poisoned.Reason, StringComparison.Ordinal);
        Assert.Equal(pipeline.Storage.Options.WorkQueue, poisoned.Queue);
        Assert.Equal(0, (await pipeline.Storage.WorkQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        await Wait.UntilAsync(() => worker.Metrics.Snapshot().PoisonedMessages == 1, Wait.Long, () => "not counted");
        Assert.Equal(2, worker.Metrics.Snapshot().FailedAttempts);
        Assert.Empty(await StoredImages.ListAsync(pipeline, "doomed"));
    }

    [Fact]
    public async Task AMessageThatIsNotAWorkItemIsPoisonedAtOnce()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.Storage.WorkQueue.SendMessageAsync("this is not JSON");
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline);

        await Wait.UntilAsync(() => worker.Metrics.Snapshot().PoisonedMessages == 1, Wait.Long, () => "nothing poisoned");

        PoisonMessage poisoned = await SinglePoisonMessageAsync(pipeline);
        Assert.Equal("this is not JSON", poisoned.Message);
        Assert.Equal(1, poisoned.DequeueCount);
        Assert.StartsWith("The message is not a work item", poisoned.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWorkItemTheModelCannotDrawIsPoisonedWithoutRetriesAndItsJobFails()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        // Registered without a class count, so intake cannot check labels; the model itself has 10 classes.
        await TestModels.RegisterAsync(pipeline, TestModels.Tiny, numClasses: null);
        Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(
            """{ "id": "label-12", "model": { "name": "tiny" }, "items": [ { "label": 12 } ], "steps": 1 }""")).Outcome);
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline);

        JobStatus status = (await Wait.ForJobsAsync(pipeline, ["label-12"]))[0];

        Assert.Equal(JobState.Failed, status.State);
        PoisonMessage poisoned = await SinglePoisonMessageAsync(pipeline);
        Assert.Equal(1, poisoned.DequeueCount);
        Assert.Contains("label 12, but model tiny v1 has 10 classes", poisoned.Reason, StringComparison.Ordinal);
        Assert.Contains("label 12", status.Error, StringComparison.Ordinal);
    }

    private static async Task<PoisonMessage> SinglePoisonMessageAsync(TestPipeline pipeline)
    {
        PeekedMessage[] messages = (await pipeline.Storage.PoisonQueueOf(pipeline.Storage.WorkQueue).PeekMessagesAsync(maxMessages: 32)).Value;
        PeekedMessage message = Assert.Single(messages);
        return PoisonMessage.TryParse(message.Body.ToString()) ?? throw new Xunit.Sdk.XunitException($"Not a poison envelope: {message.Body}");
    }
}
