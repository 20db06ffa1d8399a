using ShortcutPipeline.Contracts;
using Azure.Storage.Blobs.Models;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Model;
using ShortcutPipeline.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>A short CPU run started through the queue: checkpoints, grids, loss files, the pointer, the run record.</summary>
public sealed class TrainingRunTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ARunStartedThroughTheQueueWritesItsCheckpointsAndMovesTheLatestPointer()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        LaunchResult launch = await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("tiny", steps: 8, checkpointEvery: 4), TrainingTrigger.Manual);

        TrainingMessageOutcome? outcome = await context.Consumer.RunOnceAsync();

        Assert.Equal(LaunchOutcome.Launched, launch.Outcome);
        Assert.Equal(TrainingMessageOutcome.Succeeded, outcome);
        string[] expected =
        [
            ".lease", "loss.csv", "loss.png",
            "step-4.grid.png", "step-4.safetensors", "step-4.sampling.safetensors",
            "step-8.grid.png", "step-8.safetensors", "step-8.sampling.safetensors",
        ];
        Assert.Equal(expected, (await context.RunBlobsAsync("tiny")).Order(StringComparer.Ordinal));

        // The resumable checkpoint holds weights, EMA weights, optimizer state, step, config and metrics.
        CheckpointInfo checkpoint = Checkpoint.ReadInfo(await context.DownloadAsync(TrainingBlobNames.Checkpoint("fashion", "tiny", 8)));
        Assert.Equal((8L, true, Checkpoint.TrainingKind), (checkpoint.Step, checkpoint.HasTrainingState, checkpoint.Kind));
        Assert.Equal((32, 2, 2, 8, 10), (checkpoint.Config.HiddenSize, checkpoint.Config.Depth, checkpoint.Config.NumHeads, checkpoint.Config.InputSize, checkpoint.Config.NumClasses));
        Assert.Equal(8, checkpoint.Training!.BatchSize);
        Assert.True(double.IsFinite(checkpoint.Metrics["loss"]));

        // The loss curve: one row per step, and its plot; the grids are PNGs of 3 budgets x 10 classes.
        Assert.Equal(Enumerable.Range(1, 8).Select(step => (long)step), (await context.LossRowsAsync("tiny")).Select(row => row.Step));
        foreach (string png in new[] { "loss.png", "step-4.grid.png", "step-8.grid.png" })
        {
            BlobProperties properties = (await context.Storage.CheckpointsContainer.GetBlobClient(TrainingBlobNames.File("fashion", "tiny", png)).GetPropertiesAsync()).Value;
            Assert.Equal("image/png", properties.ContentType);
            using var image = SixLabors.ImageSharp.Image.Load(await context.DownloadAsync(TrainingBlobNames.File("fashion", "tiny", png)));
            Assert.True(image.Width > 0 && image.Height > 0);
        }

        // The pointer names the final sampling export, which loads as a model.
        ModelManifest latest = (await context.LatestAsync())!.Manifest;
        Assert.Equal(("tiny-step-8", "fashion/tiny/step-8.sampling.safetensors", 10), (latest.Version, latest.Checkpoint, latest.NumClasses));
        Assert.Equal(new TrainingRunReference("tiny", launch.Run.CreatedAt, 8), latest.TrainedBy);
        using (DiT model = Checkpoint.LoadForSampling(await context.DownloadAsync(latest.Checkpoint)))
        {
            Assert.Equal(32, model.Config.HiddenSize);
        }

        TrainingRun run = (await context.Training.Runs.GetAsync("tiny"))!;
        Assert.Equal((TrainingRunState.Succeeded, 8L, 8L, "tiny-step-8", 1), (run.State, run.Step, run.CheckpointStep, run.PromotedVersion, run.Attempts));
        Assert.Equal("fashion/tiny/step-8.safetensors", run.LastCheckpoint);
        Assert.Null(run.ResumedFromStep);
        Assert.Equal(0, await context.QueuedMessagesAsync());
        Assert.False(Directory.EnumerateFileSystemEntries(context.Options.WorkDirectory).Any(), "the work folder of the run is left behind");
    }

    [Fact]
    public async Task EveryTrainingSettingOfARequestReachesTheRunAndItsCheckpoints()
    {
        // Found by the architecture read: a request could not set bfloat16, the bootstrap source, label dropout or the
        // EMA decay, so a run the timer launched could never train in bfloat16.
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        const string settings = """
            , "objective": "shortcut", "bootstrapSource": "emaWithWarmup", "bootstrapFraction": 0.5, "bootstrapCfgScale": 1.5,
              "labelDropout": 0.3, "targetClip": 3, "weightDecay": 0.05, "emaDecay": 0.9, "emaWarmup": false, "seed": 5, "bFloat16": true
            """;
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("knobs", steps: 2, checkpointEvery: 2, extra: settings), TrainingTrigger.Manual);

        Assert.Equal(TrainingMessageOutcome.Succeeded, await context.Consumer.RunOnceAsync());

        CheckpointInfo checkpoint = Checkpoint.ReadInfo(await context.DownloadAsync(TrainingBlobNames.Checkpoint("fashion", "knobs", 2)));
        var expected = new TrainingConfig
        {
            Preset = "DiT-Tiny/2", InputSize = 8, HiddenSize = 32, Depth = 2, NumHeads = 2, BatchSize = 8, LearningRate = 1e-3,
            BootstrapSource = BootstrapSource.EmaWithWarmup, BootstrapFraction = 0.5, BootstrapCfgScale = 1.5, LabelDropout = 0.3, TargetClip = 3,
            WeightDecay = 0.05, EmaDecay = 0.9, EmaWarmup = false, Seed = 5, BFloat16 = true,
        };
        Assert.Equal(expected, checkpoint.Training);
    }

    [Fact]
    public async Task OnlyTheNewestCheckpointsAreKeptAndARepeatedDeliveryOfAFinishedRunIsDropped()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        string request = TrainerTestContext.TinyRequest("kept", steps: 6, checkpointEvery: 2);
        await context.Training.Launcher.LaunchAsync(request, TrainingTrigger.Manual);
        await context.Consumer.RunOnceAsync();

        await context.Storage.TrainingQueue.SendMessageAsync(request);
        TrainingMessageOutcome? again = await context.Consumer.RunOnceAsync();

        IReadOnlyList<string> blobs = await context.RunBlobsAsync("kept");
        Assert.Equal(["step-4.safetensors", "step-6.safetensors"], blobs.Where(name => TrainingBlobNames.CheckpointStepOf(name) is not null).Order(StringComparer.Ordinal));
        Assert.Contains("step-2.sampling.safetensors", blobs);
        Assert.Equal(TrainingMessageOutcome.AlreadyFinished, again);
        Assert.Equal(1, (await context.Training.Runs.GetAsync("kept"))!.Attempts);
        Assert.Equal(0, await context.QueuedMessagesAsync());
    }

    [Fact]
    public async Task ARunTrainsOnAnImageFolderUploadedAsBlobs()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        foreach ((string label, byte shade) in new[] { ("boot", (byte)40), ("shirt", (byte)200) })
        {
            for (int i = 0; i < 4; i++)
            {
                using var image = new Image<L8>(8, 8, new L8((byte)(shade + i)));
                using var png = new MemoryStream();
                await image.SaveAsPngAsync(png);
                await context.Storage.DatasetsContainer.UploadBlobAsync($"clothes/{label}/{i}.png", new BinaryData(png.ToArray()));
            }
        }

        string request = TrainerTestContext.TinyRequest("folder", steps: 2, checkpointEvery: 2)
            .Replace("\"fashion-mnist\"", "\"blob:clothes\"", StringComparison.Ordinal);
        await context.Training.Launcher.LaunchAsync(request, TrainingTrigger.Manual);

        Assert.Equal(TrainingMessageOutcome.Succeeded, await context.Consumer.RunOnceAsync());
        ModelManifest latest = (await context.LatestAsync())!.Manifest;
        Assert.Equal(("folder-step-2", 2), (latest.Version, latest.NumClasses));
        CheckpointInfo info = Checkpoint.ReadInfo(await context.DownloadAsync(latest.Checkpoint));
        Assert.Equal(["boot", "shirt"], info.Config.ClassNames);
        Assert.StartsWith("blob:", (await context.Training.Runs.GetAsync("folder"))!.DatasetFingerprint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheLoopModeTakesRequestsOneAfterAnotherUntilStopped()
    {
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("first", steps: 2, checkpointEvery: 2), TrainingTrigger.Manual);
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("second", steps: 2, checkpointEvery: 2), TrainingTrigger.Manual);
        using var stop = new CancellationTokenSource();

        // Done when both runs succeeded and both requests left the queue: a run is recorded as succeeded just before its
        // message is deleted, so a stop right after the second success could cut that delete short.
        Task loop = context.Consumer.RunLoopAsync(stop.Token);
        await Wait.UntilAsync(
            async () =>
            {
                if ((await context.Training.Runs.ListAsync()).All(run => run.State == TrainingRunState.Succeeded)
                    && await context.QueuedMessagesAsync() == 0)
                {
                    return true;
                }

                Assert.False(loop.IsCompleted, "The loop ended by itself.");
                return false;
            },
            TimeSpan.FromMinutes(3),
            async () => string.Join(", ", (await context.Training.Runs.ListAsync()).Select(run => $"{run.RunId}: {run.State}"))
                + $"; {await context.QueuedMessagesAsync()} requests on the queue");

        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(0, await context.QueuedMessagesAsync());
    }

    [Fact]
    public void TheBlobNamesOfARunAreTheFileNamesOfTheTrainingLoop()
    {
        Assert.Equal(TrainingLoop.CheckpointName(7), Path.GetFileName(TrainingBlobNames.Checkpoint("m", "r", 7)));
        Assert.Equal(TrainingLoop.SamplingName(7), Path.GetFileName(TrainingBlobNames.SamplingModel("m", "r", 7)));
        Assert.Equal(TrainingLoop.GridName(7), Path.GetFileName(TrainingBlobNames.SampleGrid("m", "r", 7)));
        Assert.Equal(TrainingLoop.LossCsvName, TrainingBlobNames.LossCsvFileName);
        Assert.Equal(TrainingLoop.LossPlotName, TrainingBlobNames.LossPlotFileName);
    }
}
