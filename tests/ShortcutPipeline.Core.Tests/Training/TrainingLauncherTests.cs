using Azure.Data.Tables;
using System.Text.Json;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Training;

public sealed class TrainingLauncherTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Request = """{ "runId": "r1", "model": "fashion", "preset": "DiT-Small/4", "dataset": "fashion-mnist", "steps": 500 }""";

    [Fact]
    public async Task ALaunchRecordsAQueuedRunAndEnqueuesItsRequestOnce()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);

        LaunchResult first = await training.Launcher.LaunchAsync(Request, TrainingTrigger.Manual);
        LaunchResult again = await training.Launcher.LaunchAsync(Request, TrainingTrigger.Manual);

        Assert.Equal((LaunchOutcome.Launched, LaunchOutcome.Duplicate), (first.Outcome, again.Outcome));
        TrainingRun run = (await training.Runs.GetAsync("r1"))!;
        Assert.Equal((TrainingRunState.Queued, TrainingTrigger.Manual, "fashion", 500L), (run.State, run.Trigger, run.Model, run.TotalSteps));
        Assert.Equal("builtin:fashion-mnist", run.DatasetFingerprint);
        Assert.Equal(run.Request!.ConfigurationFingerprint(), run.ConfigurationFingerprint);
        string message = Assert.Single(await training.PeekTrainingQueueAsync());
        Assert.Equal(run.Request, JsonSerializer.Deserialize<TrainingRequest>(message, PipelineJson.Options));
    }

    [Fact]
    public async Task TheRunRecordKeepsStateAndTriggerAsTheEnumsNames()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        await training.Launcher.LaunchAsync(Request, TrainingTrigger.Schedule);

        TableEntity record = (await training.Storage.RunsTable.GetEntityAsync<TableEntity>("r1", "run")).Value;

        Assert.Equal(("Queued", "Schedule"), (record.GetString("State"), record.GetString("Trigger")));
    }

    [Fact]
    public async Task ALaunchWithoutARunIdGetsANewOneEachTime()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        string request = Request.Replace("\"runId\": \"r1\", ", "", StringComparison.Ordinal);

        LaunchResult a = await training.Launcher.LaunchAsync(request, TrainingTrigger.Manual);
        LaunchResult b = await training.Launcher.LaunchAsync(request, TrainingTrigger.Manual);

        Assert.Equal((LaunchOutcome.Launched, LaunchOutcome.Launched), (a.Outcome, b.Outcome));
        Assert.NotEqual(a.RunId, b.RunId);
        Assert.Equal(2, (await training.PeekTrainingQueueAsync()).Count);
    }

    [Fact]
    public async Task AnotherRequestUnderATakenRunIdConflictsAndChangesNothing()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        await training.Launcher.LaunchAsync(Request, TrainingTrigger.Manual);

        LaunchResult other = await training.Launcher.LaunchAsync(Request.Replace("500", "600", StringComparison.Ordinal), TrainingTrigger.Manual);

        Assert.Equal(LaunchOutcome.Conflict, other.Outcome);
        Assert.StartsWith("$.runId \"r1\" is taken", Assert.Single(other.Reasons), StringComparison.Ordinal);
        Assert.Equal(500, (await training.Runs.GetAsync("r1"))!.TotalSteps);
        Assert.Single(await training.PeekTrainingQueueAsync());
    }

    [Fact]
    public async Task ABadRequestEndsAsAFailedRunWithEveryReasonAndNothingEnqueued()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        string bad = Request.Replace("500", "-5", StringComparison.Ordinal).Replace("\"preset\": \"DiT-Small/4\", ", "", StringComparison.Ordinal);

        LaunchResult result = await training.Launcher.LaunchAsync(bad, TrainingTrigger.Manual);

        Assert.Equal((LaunchOutcome.Rejected, "r1"), (result.Outcome, result.RunId));
        TrainingRun run = (await training.Runs.GetAsync("r1"))!;
        Assert.Equal(TrainingRunState.Failed, run.State);
        Assert.Equal(2, run.Reasons.Count);
        Assert.Contains("$.steps must be a whole number from 1 to 100000000; got the number -5.", run.Reasons);
        Assert.Contains(run.Reasons, reason => reason.StartsWith("$.preset is required", StringComparison.Ordinal));
        Assert.Equal(bad, run.RequestText);
        Assert.NotNull(run.FinishedAt);
        Assert.Empty(await training.PeekTrainingQueueAsync());
        // The same bad request again answers the same; a bad request under a taken id is recorded under a derived id.
        Assert.Equal(LaunchOutcome.Rejected, (await training.Launcher.LaunchAsync(bad, TrainingTrigger.Manual)).Outcome);
        LaunchResult underTakenId = await training.Launcher.LaunchAsync(bad.Replace("-5", "-6", StringComparison.Ordinal), TrainingTrigger.Manual);
        Assert.StartsWith("rejected-", underTakenId.RunId, StringComparison.Ordinal);
        Assert.StartsWith("$.runId \"r1\" is taken", underTakenId.Reasons[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALaunchInterruptedBeforeEnqueueingIsFinishedByTheNextOne()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        TrainingRequest request = new TrainingRequestReader().Read(Request).Request!;
        await training.Runs.CreateAsync(request, TrainingTrigger.Manual, datasetFingerprint: null);

        LaunchResult result = await training.Launcher.LaunchAsync(Request, TrainingTrigger.Manual);

        Assert.Equal(LaunchOutcome.Duplicate, result.Outcome);
        Assert.Single(await training.PeekTrainingQueueAsync());
        Assert.Equal(LaunchOutcome.Duplicate, (await training.Launcher.LaunchAsync(Request, TrainingTrigger.Manual)).Outcome);
        Assert.Single(await training.PeekTrainingQueueAsync());
    }

    [Fact]
    public async Task TerminalRunsAreNeverChangedAndConcurrentCheckpointsMergeTheirMetrics()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        await training.Launcher.LaunchAsync(Request, TrainingTrigger.Manual);

        await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Task.Run(() =>
            training.Runs.RecordCheckpointAsync("r1", 100, "fashion/r1/step-100.safetensors", new Dictionary<string, double> { [$"m{i}"] = i }))));
        await training.Runs.MarkFailedAsync("r1", ["broken"]);
        TrainingRun? afterFailure = await training.Runs.MarkRunningAsync("r1", "late-trainer", resumedFromStep: null);

        Assert.Equal(6, afterFailure!.Metrics.Count);
        Assert.Equal(TrainingRunState.Failed, afterFailure.State);
        Assert.Null(afterFailure.Trainer);
        Assert.Equal(["broken"], afterFailure.Reasons);
        Assert.Null(await training.Runs.MarkSucceededAsync("nope"));
    }

    [Fact]
    public async Task BlobDatasetsHaveAFingerprintThatFollowsTheirContent()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        string empty = await training.Datasets.FingerprintAsync("blob:shoes");
        await training.Storage.DatasetsContainer.UploadBlobAsync("shoes/boot/1.png", BinaryData.FromString("one"));
        string one = await training.Datasets.FingerprintAsync("blob:shoes/");
        await training.Storage.DatasetsContainer.UploadBlobAsync("shoes/boot/2.png", BinaryData.FromString("two"));
        string two = await training.Datasets.FingerprintAsync("blob:shoes");

        Assert.Equal(3, new[] { empty, one, two }.Distinct().Count());
        Assert.Equal(two, await training.Datasets.FingerprintAsync("blob:shoes"));
        Assert.Equal("missing:/no/such/folder", await training.Datasets.FingerprintAsync("/no/such/folder"));

        using var folder = new TempDirectory("dataset-");
        Assert.Equal(2, await training.Datasets.DownloadAsync("shoes/", folder.Path));
        Assert.Equal("two", await File.ReadAllTextAsync(Path.Combine(folder.Path, "boot", "2.png")));
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => training.Datasets.DownloadAsync("hats/", folder.Path));
    }
}
