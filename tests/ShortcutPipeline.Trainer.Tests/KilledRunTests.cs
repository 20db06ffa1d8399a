using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>A trainer killed mid-run: the next delivery of its request resumes from the last checkpoint and ends at the requested total.</summary>
public sealed class KilledRunTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    // Long after the first checkpoint: the run must not reach its end between two looks for that checkpoint (the
    // trainer takes both cores; on an idle machine it trained 60 steps and uploaded two checkpoints between looks).
    private const long TotalSteps = 300;
    private const int CheckpointEvery = 30;

    [Fact]
    public async Task ARunKilledMidIntervalResumesFromItsCheckpointAndEndsAtTheRequestedTotal()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        // The context's work folder: deleted with the context, also what the killed trainer left.
        TrainerHostOptions options = TrainerTestContext.FastOptions(context.Options.WorkDirectory);
        options.VisibilityTimeout = TimeSpan.FromSeconds(3);
        options.WaitForMessage = TimeSpan.FromMinutes(2);
        await context.Training.Launcher.LaunchAsync(
            TrainerTestContext.TinyRequest("killed", TotalSteps, CheckpointEvery, images: 128, batchSize: 8), TrainingTrigger.Manual);
        string firstCheckpoint = TrainingBlobNames.Checkpoint(TrainerTestContext.Model, "killed", CheckpointEvery);

        // The first trainer: killed as soon as its first checkpoint is in Blob Storage, in the middle of the next interval.
        long resumeFrom;
        await using (HostProcess first = TrainerProcess.Start(azurite.ConnectionString, context.Storage.Options, options, "--once"))
        {
            await Wait.UntilAsync(
                async () =>
                {
                    bool exited = first.HasExited;   // before the look: a checkpoint written meanwhile is not a failure
                    if ((await context.Storage.CheckpointsContainer.GetBlobClient(firstCheckpoint).ExistsAsync()).Value)
                    {
                        return true;
                    }

                    if (exited)
                    {
                        Assert.Fail($"The trainer exited ({first.ExitCode}) before its first checkpoint. Its output:{Environment.NewLine}{first.Output}");
                    }

                    return false;
                },
                TimeSpan.FromMinutes(3),
                () => Task.FromResult($"no checkpoint. The trainer's output:{Environment.NewLine}{first.Output}"));
            first.Kill();
            output.WriteLine($"--- first trainer (killed):{Environment.NewLine}{first.Output}");
            resumeFrom = (await context.RunBlobsAsync("killed")).Select(TrainingBlobNames.CheckpointStepOf).OfType<long>().Max();
        }

        Assert.True(resumeFrom < TotalSteps, $"The first trainer finished (step {resumeFrom}) before it was killed: nothing to resume.");
        TrainingRun interrupted = (await context.Training.Runs.GetAsync("killed"))!;
        Assert.Equal((TrainingRunState.Running, 1), (interrupted.State, interrupted.Attempts));

        // The second trainer waits for the dead trainer's message and lease to lapse, then resumes.
        await using HostProcess second = TrainerProcess.Start(azurite.ConnectionString, context.Storage.Options, options, "--once");
        int exitCode = await second.WaitForExitAsync(TimeSpan.FromMinutes(4));
        output.WriteLine($"--- second trainer:{Environment.NewLine}{second.Output}");

        Assert.Equal(0, exitCode);
        Assert.Contains($"Resuming run killed from its checkpoint at step {resumeFrom} of {TotalSteps} (attempt 2).", second.Output, StringComparison.Ordinal);
        TrainingRun run = (await context.Training.Runs.GetAsync("killed"))!;
        Assert.Equal((TrainingRunState.Succeeded, TotalSteps, TotalSteps, 2, resumeFrom), (run.State, run.Step, run.CheckpointStep, run.Attempts, run.ResumedFromStep));
        Assert.Equal($"killed-step-{TotalSteps}", run.PromotedVersion);
        Assert.Equal($"killed-step-{TotalSteps}", (await context.LatestAsync())!.Manifest.Version);
        // The loss log has each step once, 1 to the total: the steps after the checkpoint were trained again, no others.
        Assert.Equal(Enumerable.Range(1, (int)TotalSteps).Select(step => (long)step), (await context.LossRowsAsync("killed")).Select(row => row.Step));
        Assert.Contains(TrainingBlobNames.CheckpointFileName(TotalSteps), await context.RunBlobsAsync("killed"));
        Assert.Equal(0, await context.QueuedMessagesAsync());
    }
}
