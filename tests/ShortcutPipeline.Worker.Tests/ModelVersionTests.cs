using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>Model versions are cache keys: a newly promoted version is loaded between batches, without a restart.</summary>
public sealed class ModelVersionTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ANewlyPromotedVersionIsLoadedBetweenBatchesAndTheOldestIsUnloaded()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await TestModels.RegisterAsync(pipeline, TestModels.Tiny, version: "v1");
        await using InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, options => options.LoadedModels = 1);

        await SubmitAndWaitAsync(pipeline, "on-v1");
        Assert.Equal([("tiny", "v1")], worker.Sampling.LoadedVersions);
        await TestModels.RegisterAsync(pipeline, TestModels.Tiny, version: "v2");
        await SubmitAndWaitAsync(pipeline, "on-v2");

        Assert.Equal([("tiny", "v2")], worker.Sampling.LoadedVersions);
        Assert.Equal("v1", PngWriter.ReadTextChunks(await StoredImages.ReadAsync(pipeline, "on-v1", 0))["modelVersion"]);
        Assert.Equal("v2", PngWriter.ReadTextChunks(await StoredImages.ReadAsync(pipeline, "on-v2", 0))["modelVersion"]);
        Assert.True(File.Exists(Path.Combine(worker.ModelCacheDirectory, "tiny", "v2", "model.safetensors")));
    }

    [Theory]
    [InlineData(nameof(WorkerOptions.MaxRowsPerPass))]
    [InlineData(nameof(WorkerOptions.VisibilityTimeout))]
    [InlineData(nameof(WorkerOptions.PollInterval))]
    public void SettingsOutOfRangeAreRefusedByName(string setting)
    {
        using var modelCache = new TempDirectory("worker-cache-");
        WorkerOptions options = InProcessWorker.TestOptions(modelCache.Path);
        switch (setting)
        {
            case nameof(WorkerOptions.MaxRowsPerPass): options.MaxRowsPerPass = 0; break;
            case nameof(WorkerOptions.VisibilityTimeout): options.VisibilityTimeout = TimeSpan.FromMilliseconds(500); break;
            default: options.PollInterval = TimeSpan.Zero; break;
        }

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    private static async Task SubmitAndWaitAsync(TestPipeline pipeline, string id)
    {
        IntakeResult result = await pipeline.Intake.SubmitAsync(
            $$"""{ "id": "{{id}}", "model": { "name": "tiny" }, "classes": [ { "label": 2, "count": 2 } ], "steps": 2 }""");
        Assert.Equal(IntakeOutcome.Accepted, result.Outcome);
        Assert.Equal(JobState.Completed, (await Wait.ForJobsAsync(pipeline, [id]))[0].State);
    }
}
