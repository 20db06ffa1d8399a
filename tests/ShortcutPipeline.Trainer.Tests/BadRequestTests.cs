using Azure.Storage.Queues.Models;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>Requests that cannot be trained end as Failed runs with a clear reason; their messages are not retried.</summary>
public sealed class BadRequestTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    [Theory]
    [InlineData("""{ "runId": "bad", "model": "fashion", "preset": "DiT-Huge/9", "dataset": "fashion-mnist", "steps": 10 }""",
        "$.preset: Unknown model preset \"DiT-Huge/9\". Known presets: DiT-XL/2, DiT-B/2, DiT-S/4, DiT-Small/4, DiT-Mini/4, DiT-Tiny/2.")]
    [InlineData("""{ "runId": "bad", "model": "fashion", "preset": "DiT-Tiny/2", "dataset": "blob:nosuch", "steps": 10 }""",
        "$.dataset: The dataset blob:nosuch has no blobs")]
    [InlineData("""{ "runId": "bad", "model": "fashion", "preset": "DiT-Tiny/2", "dataset": "/no/such/folder", "steps": 10 }""",
        "$.dataset: Dataset folder /no/such/folder does not exist")]
    [InlineData("""{ "runId": "bad", "model": "fashion", "preset": "DiT-Tiny/2", "hiddenSize": 30, "numHeads": 4, "dataset": "fashion-mnist", "steps": 10 }""",
        "$.preset DiT-Tiny/2 with the request's sizes: HiddenSize 30 must be divisible by NumHeads 4.")]
    [InlineData("""{ "runId": "bad", "model": "fashion", "preset": "DiT-Tiny/2", "channels": 3, "dataset": "fashion-mnist", "steps": 10 }""",
        "$.dataset: Fashion-MNIST is grayscale: the model must have 1 input channel, not 3.")]
    public async Task ARunThatCannotBeTrainedFailsWithTheReason(string request, string reasonStart)
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        Assert.Equal(LaunchOutcome.Launched, (await context.Training.Launcher.LaunchAsync(request, TrainingTrigger.Manual)).Outcome);

        TrainingMessageOutcome? outcome = await context.Consumer.RunOnceAsync();

        Assert.Equal(TrainingMessageOutcome.Failed, outcome);
        TrainingRun run = (await context.Training.Runs.GetAsync("bad"))!;
        Assert.Equal(TrainingRunState.Failed, run.State);
        Assert.StartsWith(reasonStart, Assert.Single(run.Reasons), StringComparison.Ordinal);
        Assert.Equal(0, await context.QueuedMessagesAsync());
        Assert.DoesNotContain(await context.RunBlobsAsync("bad"), name => name.EndsWith(".safetensors", StringComparison.Ordinal));
        Assert.Null(await context.LatestAsync());
    }

    [Fact]
    public async Task ARequestPutOnTheQueueWithNegativeStepsFailsWithTheReason()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        await context.Storage.TrainingQueue.SendMessageAsync(
            """{ "runId": "negative", "model": "fashion", "preset": "DiT-Tiny/2", "dataset": "fashion-mnist", "steps": -5 }""");
        await context.Storage.TrainingQueue.SendMessageAsync("not a request");

        TrainingMessageOutcome? first = await context.Consumer.RunOnceAsync();
        TrainingMessageOutcome? second = await context.Consumer.RunOnceAsync();

        Assert.Equal((TrainingMessageOutcome.Failed, TrainingMessageOutcome.Failed), (first, second));
        TrainingRun negative = (await context.Training.Runs.GetAsync("negative"))!;
        Assert.Equal((TrainingRunState.Failed, TrainingTrigger.Queue), (negative.State, negative.Trigger));
        Assert.Equal(["$.steps must be a whole number from 1 to 100000000; got the number -5."], negative.Reasons);
        TrainingRun garbage = Assert.Single(await context.Training.Runs.ListAsync(), run => run.RunId.StartsWith("q-", StringComparison.Ordinal));
        Assert.StartsWith("The message is not valid JSON", Assert.Single(garbage.Reasons), StringComparison.Ordinal);
        Assert.Equal("not a request", garbage.RequestText);
        Assert.Equal(0, await context.QueuedMessagesAsync());
    }

    [Fact]
    public async Task ARequestWhoseMessageIsNoLongerHeldIsLeftToItsHolder()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        await context.Storage.TrainingQueue.SendMessageAsync("not a request");
        QueueMessage message = (await context.Storage.TrainingQueue.ReceiveMessageAsync(context.Options.VisibilityTimeout)).Value;
        // Updated under the same receipt by someone else (or by a request of ours whose answer was lost): ours is stale now.
        await context.Storage.TrainingQueue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.FromMinutes(1));

        TrainingMessageOutcome outcome = await context.Runner.ProcessAsync(message, CancellationToken.None);

        Assert.Equal(TrainingMessageOutcome.Failed, outcome);
        Assert.StartsWith("The message is not valid JSON", Assert.Single(Assert.Single(await context.Training.Runs.ListAsync()).Reasons), StringComparison.Ordinal);
        Assert.Equal(1, await context.QueuedMessagesAsync());
    }

    [Fact]
    public async Task ARunStartedTooOftenWithoutFinishingFails()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("crashy", steps: 4, checkpointEvery: 2), TrainingTrigger.Manual);
        for (int attempt = 0; attempt < context.Options.MaxAttempts; attempt++)
        {
            await context.Training.Runs.MarkRunningAsync("crashy", "a trainer that crashed", resumedFromStep: null);
        }

        await context.Training.Runs.RecordErrorAsync("crashy", "OutOfMemoryException: out of memory");
        TrainingMessageOutcome? outcome = await context.Consumer.RunOnceAsync();

        Assert.Equal(TrainingMessageOutcome.Failed, outcome);
        string reason = Assert.Single((await context.Training.Runs.GetAsync("crashy"))!.Reasons);
        Assert.Equal("The run was started 5 times without finishing (the limit is 5); the last error: OutOfMemoryException: out of memory", reason);
        Assert.Equal(0, await context.QueuedMessagesAsync());
    }
}
