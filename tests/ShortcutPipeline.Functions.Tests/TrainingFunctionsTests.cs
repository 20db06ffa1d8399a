using System.Net;
using System.Text.Json;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Functions.Tests;

/// <summary>The training functions (HTTP and timer) over real Core services and Azurite.</summary>
public sealed class TrainingFunctionsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly Uri RunsUrl = new("http://localhost:7071/api/runs");

    private const string Request = """{ "runId": "manual-1", "model": "fashion", "preset": "DiT-Small/4", "dataset": "fashion-mnist", "steps": 500 }""";

    [Fact]
    public async Task LaunchAnswers202WithTheRunUrlAndEnqueuesTheRequest()
    {
        (TestTraining training, TrainingHttpFunctions functions) = await CreateAsync();

        TestHttpResponseData response = await LaunchAsync(functions, Request);
        TestHttpResponseData again = await LaunchAsync(functions, Request);

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.OK), (response.StatusCode, again.StatusCode));
        Assert.Equal("http://localhost:7071/api/runs/manual-1", Assert.Single(response.Headers.GetValues("Location")));
        using JsonDocument body = JsonDocument.Parse(response.ReadBody());
        Assert.Equal("manual-1", body.RootElement.GetProperty("runId").GetString());
        Assert.Equal("launched", body.RootElement.GetProperty("outcome").GetString());
        Assert.Equal("queued", body.RootElement.GetProperty("state").GetString());
        Assert.Single(await training.PeekTrainingQueueAsync());
    }

    [Fact]
    public async Task ABadRequestAnswers400WithTheReasonsAndIsListedAsAFailedRun()
    {
        (TestTraining training, TrainingHttpFunctions functions) = await CreateAsync();

        TestHttpResponseData response = await LaunchAsync(functions, Request.Replace("500", "-5", StringComparison.Ordinal));
        var run = (TestHttpResponseData)await functions.GetAsync(Get("manual-1"), "manual-1", CancellationToken.None);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using JsonDocument body = JsonDocument.Parse(response.ReadBody());
        Assert.Equal("failed", body.RootElement.GetProperty("state").GetString());
        Assert.Equal("$.steps must be a whole number from 1 to 100000000; got the number -5.",
            Assert.Single(body.RootElement.GetProperty("reasons").EnumerateArray()).GetString());
        Assert.Equal(HttpStatusCode.OK, run.StatusCode);
        Assert.Equal("failed", JsonDocument.Parse(run.ReadBody()).RootElement.GetProperty("state").GetString());
        Assert.Empty(await training.PeekTrainingQueueAsync());
    }

    [Fact]
    public async Task TheTrainingRequestSchemaIsPublishedAndAcceptsWhatTheLauncherAccepts()
    {
        var response = (TestHttpResponseData)await JobHttpFunctions.GetSchemaAsync(
            new TestHttpRequestData("GET", new Uri("http://localhost:7071/api/schema/training-request")), "training-request", CancellationToken.None);
        var unknown = (TestHttpResponseData)await JobHttpFunctions.GetSchemaAsync(
            new TestHttpRequestData("GET", new Uri("http://localhost:7071/api/schema/other")), "other", CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/schema+json; charset=utf-8", response.Headers.GetValues("Content-Type").Single());
        var schema = Json.Schema.JsonSchema.FromText(response.ReadBody(), new Json.Schema.BuildOptions { SchemaRegistry = new Json.Schema.SchemaRegistry() });
        using JsonDocument good = JsonDocument.Parse(Request);
        using JsonDocument bad = JsonDocument.Parse(Request.Replace("500", "-5", StringComparison.Ordinal));
        Assert.True(schema.Evaluate(good.RootElement).IsValid);
        Assert.False(schema.Evaluate(bad.RootElement).IsValid);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task ATakenRunIdAnswers409()
    {
        (_, TrainingHttpFunctions functions) = await CreateAsync();
        await LaunchAsync(functions, Request);

        TestHttpResponseData response = await LaunchAsync(functions, Request.Replace("500", "600", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("is taken", response.ReadBody(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListShowsTheRunsWithTheirStateNewestFirstAndGetShowsOneOr404()
    {
        var clock = new ManualTimeProvider();
        (TestTraining training, TrainingHttpFunctions functions) = await CreateAsync(clock);
        await LaunchAsync(functions, Request);
        clock.Advance(TimeSpan.FromMinutes(1));
        await LaunchAsync(functions, Request.Replace("manual-1", "manual-2", StringComparison.Ordinal).Replace("fashion\"", "shoes\"", StringComparison.Ordinal));
        await training.Runs.MarkRunningAsync("manual-1", "trainer-a", resumedFromStep: null);
        await training.Runs.RecordProgressAsync("manual-1", 120);

        var all = (TestHttpResponseData)await functions.ListAsync(new TestHttpRequestData("GET", RunsUrl), CancellationToken.None);
        var fashion = (TestHttpResponseData)await functions.ListAsync(new TestHttpRequestData("GET", new Uri(RunsUrl + "?model=fashion")), CancellationToken.None);
        var badMax = (TestHttpResponseData)await functions.ListAsync(new TestHttpRequestData("GET", new Uri(RunsUrl + "?max=0")), CancellationToken.None);
        var one = (TestHttpResponseData)await functions.GetAsync(Get("manual-1"), "manual-1", CancellationToken.None);
        var missing = (TestHttpResponseData)await functions.GetAsync(Get("nope"), "nope", CancellationToken.None);

        JsonElement[] runs = [.. JsonDocument.Parse(all.ReadBody()).RootElement.GetProperty("runs").EnumerateArray()];
        Assert.Equal(["manual-2", "manual-1"], runs.Select(r => r.GetProperty("runId").GetString()));
        Assert.Equal(["queued", "running"], runs.Select(r => r.GetProperty("state").GetString()));
        Assert.Single(JsonDocument.Parse(fashion.ReadBody()).RootElement.GetProperty("runs").EnumerateArray());
        Assert.Equal(HttpStatusCode.BadRequest, badMax.StatusCode);
        using JsonDocument run = JsonDocument.Parse(one.ReadBody());
        Assert.Equal(120, run.RootElement.GetProperty("step").GetInt64());
        Assert.Equal(500, run.RootElement.GetProperty("totalSteps").GetInt64());
        Assert.Equal("DiT-Small/4", run.RootElement.GetProperty("request").GetProperty("preset").GetString());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task TheTimerLaunchesTheConfiguredRequestOnceUntilItIsDue()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite, scheduleOptions: new TrainingScheduleOptions
        {
            Request = """{ "model": "fashion", "preset": "DiT-Small/4", "dataset": "fashion-mnist", "steps": 500 }""",
        });
        var function = new TrainingScheduleFunction(training.Scheduler, NullLogger<TrainingScheduleFunction>.Instance);

        await function.RunAsync(new TestTimerInfo(), CancellationToken.None);
        await function.RunAsync(new TestTimerInfo(), CancellationToken.None);

        TrainingRun run = Assert.Single(await training.Runs.ListAsync());
        Assert.Equal((TrainingTrigger.Schedule, TrainingRunState.Queued), (run.Trigger, run.State));
        Assert.Single(await training.PeekTrainingQueueAsync());
    }

    private async Task<(TestTraining, TrainingHttpFunctions)> CreateAsync(TimeProvider? time = null)
    {
        TestTraining training = await TestTraining.CreateAsync(azurite, time);
        return (training, new TrainingHttpFunctions(training.Launcher, training.Runs));
    }

    private static async Task<TestHttpResponseData> LaunchAsync(TrainingHttpFunctions functions, string body) =>
        (TestHttpResponseData)await functions.LaunchAsync(new TestHttpRequestData("POST", RunsUrl, body), CancellationToken.None);

    private static TestHttpRequestData Get(string id) => new("GET", new Uri(RunsUrl + "/" + id));

    private sealed class TestTimerInfo : TimerInfo;
}
