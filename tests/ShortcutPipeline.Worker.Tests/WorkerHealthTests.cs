using System.Net;
using System.Text.Json;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>The worker host's health endpoints over real HTTP, and its telemetry on the console, in its own process.</summary>
public sealed class WorkerHealthTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task TheWorkerIsLiveAtOnceAndReadyOnceItsPreloadedModelIsLoaded()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        using var cache = new TempDirectory("worker-health-cache-");
        await using HostProcess worker = WorkerProcess.Start(azurite.ConnectionString, pipeline.Storage.Options, Settings(cache.Path, preload: "tiny"));
        using var health = new HealthClient(worker.HealthPort);

        // Not ready while the model it is told to serve is not registered, let alone loaded; alive all the same.
        JsonElement waiting = await health.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable, Wait.Long, appOutput: () => worker.Output,
            until: body => HealthClient.Detail(body, "models").Contains("tiny: not loaded yet: not registered", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(Core.Health.HealthOptions.LivePath)).Status);
        Assert.True(HealthClient.Check(waiting, "storage").GetProperty("ready").GetBoolean());
        Assert.False(HealthClient.Check(waiting, "models").GetProperty("ready").GetBoolean());

        await TestModels.RegisterAsync(pipeline, TestModels.Tiny);
        JsonElement ready = await health.WaitForReadinessAsync(HttpStatusCode.OK, Wait.Long, appOutput: () => worker.Output);

        Assert.Equal("ready", ready.GetProperty("status").GetString());
        Assert.Contains("tiny: version v1 loaded. Loaded now: tiny v1.", HealthClient.Detail(ready, "models"), StringComparison.Ordinal);
        await worker.WaitForOutputAsync("Preloaded model tiny v1.", Wait.Long);
    }

    [Fact]
    public async Task WithoutModelsToPreloadReadinessIsStorageAndTheJobsSpansReachTheConsole()
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        using var cache = new TempDirectory("worker-health-cache-");
        await using HostProcess worker = WorkerProcess.Start(azurite.ConnectionString, pipeline.Storage.Options, Settings(cache.Path, preload: null));
        using var health = new HealthClient(worker.HealthPort);

        JsonElement ready = await health.WaitForReadinessAsync(HttpStatusCode.OK, Wait.Long, appOutput: () => worker.Output);
        Assert.Contains("No models to preload", HealthClient.Detail(ready, "models"), StringComparison.Ordinal);

        const string jobId = "console-spans";
        Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(
            $$"""{ "id": "{{jobId}}", "model": { "name": "tiny" }, "classes": [ { "label": 2, "count": 3 } ], "steps": 2 }""")).Outcome);
        JobStatus status = Assert.Single(await Wait.ForJobsAsync(pipeline, [jobId]));
        Assert.Equal(JobState.Completed, status.State);

        await worker.WaitForOutputAsync($"{TelemetryAttributes.Outcome}: completedjob", Wait.Long);
        Assert.Contains(SpanNames.RecordImages, worker.Output, StringComparison.Ordinal);
        Assert.Contains($"{TelemetryAttributes.JobId}: {jobId}", worker.Output, StringComparison.Ordinal);
        Assert.Contains(ServiceNames.Worker, worker.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void PreloadSettingsThatCannotWorkAreRefusedByName()
    {
        Assert.Equal(["a", "b"], new ModelPreloadOptions { PreloadModels = " a, b,,a " }.Models);
        Assert.Contains("\"no/such\" is not a model name", Refusal(new ModelPreloadOptions { PreloadModels = "fine,no/such" }, 2), StringComparison.Ordinal);
        Assert.Contains("they would unload each other", Refusal(new ModelPreloadOptions { PreloadModels = "a,b,c" }, 2), StringComparison.Ordinal);
        Assert.Contains(nameof(ModelPreloadOptions.PreloadRetryDelay), Refusal(new ModelPreloadOptions { PreloadRetryDelay = TimeSpan.Zero }, 2), StringComparison.Ordinal);
        new ModelPreloadOptions { PreloadModels = "a,b" }.Validate(loadedModels: 2);
    }

    private static string Refusal(ModelPreloadOptions options, int loadedModels) =>
        Assert.Throws<InvalidOperationException>(() => options.Validate(loadedModels)).Message;

    private static Dictionary<string, string> Settings(string cache, string? preload)
    {
        var settings = new Dictionary<string, string>
        {
            [nameof(WorkerOptions.Device)] = "cpu",
            [nameof(WorkerOptions.PollInterval)] = "00:00:00.2",
            [nameof(WorkerOptions.ModelCacheDirectory)] = cache,
            [nameof(ModelPreloadOptions.PreloadRetryDelay)] = "00:00:00.2",
        };
        if (preload is not null)
        {
            settings[nameof(ModelPreloadOptions.PreloadModels)] = preload;
        }

        return settings;
    }
}
