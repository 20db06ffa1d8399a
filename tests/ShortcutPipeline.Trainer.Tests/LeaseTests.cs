using Azure.Storage.Blobs.Specialized;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>Only one trainer works on a run: a second one leaves a leased run's request alone.</summary>
public sealed class LeaseTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ASecondTrainerLeavesALeasedRunAloneAndTakesItOnceTheLeaseIsGone()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("leased", steps: 4, checkpointEvery: 4), TrainingTrigger.Manual);
        // Another trainer holds the run's lease.
        var leaseBlob = context.Storage.CheckpointsContainer.GetBlobClient(TrainingBlobNames.File("fashion", "leased", TrainingBlobNames.LeaseFileName));
        await leaseBlob.UploadAsync(BinaryData.Empty);
        BlobLeaseClient otherTrainer = leaseBlob.GetBlobLeaseClient();
        await otherTrainer.AcquireAsync(TimeSpan.FromSeconds(60));

        TrainingMessageOutcome? whileLeased = await context.Consumer.ProcessNextAsync();

        Assert.Equal(TrainingMessageOutcome.Busy, whileLeased);
        TrainingRun untouched = (await context.Training.Runs.GetAsync("leased"))!;
        Assert.Equal((TrainingRunState.Queued, 0), (untouched.State, untouched.Attempts));
        Assert.Equal(1, await context.QueuedMessagesAsync());
        Assert.DoesNotContain(await context.RunBlobsAsync("leased"), name => name != TrainingBlobNames.LeaseFileName);

        await otherTrainer.ReleaseAsync();
        TrainingMessageOutcome? afterRelease = await context.Consumer.RunOnceAsync();

        Assert.Equal(TrainingMessageOutcome.Succeeded, afterRelease);
        Assert.Equal(TrainingRunState.Succeeded, (await context.Training.Runs.GetAsync("leased"))!.State);
        // The trainer released its own lease: another could take the blob's lease now.
        await otherTrainer.AcquireAsync(TimeSpan.FromSeconds(15));
    }
}
