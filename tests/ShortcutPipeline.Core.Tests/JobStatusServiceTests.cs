using System.Text.Json;
using Azure.Storage.Blobs;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

public sealed class JobStatusServiceTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task UnknownOrMalformedIdsHaveNoStatus()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);

        Assert.Null(await pipeline.Status.GetAsync("never-submitted"));
        Assert.Null(await pipeline.Status.GetAsync("bad/id?"));
        Assert.Null(await pipeline.Status.GetAsync(""));
        Assert.Equal(CancelOutcome.NotFound, (await pipeline.Status.CancelAsync("never-submitted")).Outcome);
    }

    [Fact]
    public async Task ImageLinksAreReadOnlySasUrlsThatServeTheImage()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await JobProgressTests.SubmitAsync(pipeline, "linked", images: 2);
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3];
        BlobClient blob = pipeline.Storage.ImagesContainer.GetBlobClient(ImageBlobNames.For("linked", 1));
        await blob.UploadAsync(new BinaryData(png));
        await pipeline.Progress.RecordImageAsync("linked", 1);

        JobStatus? status = await pipeline.Status.GetAsync("linked");

        JobImage image = Assert.Single(status!.Images);
        Assert.Equal((1, "linked/1.png"), (image.Index, image.BlobName));
        Assert.Contains("sig=", image.Url.Query, StringComparison.Ordinal);
        Assert.Contains("sp=r", image.Url.Query, StringComparison.Ordinal);
        using var http = new HttpClient();
        Assert.Equal(png, await http.GetByteArrayAsync(image.Url));
    }

    [Fact]
    public async Task PlainLinksWhenConfigured()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite, statusOptions: new JobStatusOptions { ImageLinks = ImageLinkMode.Plain });
        await pipeline.RegisterModelAsync("fashion", "v1");
        await JobProgressTests.SubmitAsync(pipeline, "plain", images: 1);
        await pipeline.Progress.RecordImageAsync("plain", 0);

        JobImage image = Assert.Single((await pipeline.Status.GetAsync("plain"))!.Images);

        Assert.Equal(pipeline.Storage.ImagesContainer.GetBlobClient("plain/0.png").Uri, image.Url);
    }

    [Fact]
    public async Task CancelOnlyChangesUnfinishedJobs()
    {
        TestPipeline pipeline = await CreatePipelineWithJobsAsync(unfinished: "to-cancel", completed: "done");

        CancelResult cancelled = await pipeline.Status.CancelAsync("to-cancel");
        CancelResult again = await pipeline.Status.CancelAsync("to-cancel");
        CancelResult finished = await pipeline.Status.CancelAsync("done");

        Assert.Equal((CancelOutcome.Cancelled, JobState.Cancelled), (cancelled.Outcome, cancelled.Status?.State));
        Assert.Equal((CancelOutcome.AlreadyFinished, JobState.Cancelled), (again.Outcome, again.Status?.State));
        Assert.Equal((CancelOutcome.AlreadyFinished, JobState.Completed), (finished.Outcome, finished.Status?.State));
        // An image a worker finishes after the cancellation is recorded, but the job stays cancelled.
        ImageRecordResult late = await pipeline.Progress.RecordImageAsync("to-cancel", 0);
        Assert.Equal(JobState.Cancelled, late.State);
    }

    [Fact]
    public async Task RefreshReadsOnlyTheJobsThatMayStillChange()
    {
        TestPipeline pipeline = await CreatePipelineWithJobsAsync(unfinished: "refresh-running", completed: "refresh-done");
        string[] ids = ["refresh-done", "refresh-running", "refresh-unknown"];
        var statuses = new JobStatus?[ids.Length];

        await pipeline.Status.RefreshAsync(ids, statuses);
        JobStatus done = statuses[0]!;
        await pipeline.Progress.RecordImageAsync("refresh-running", 0);
        await pipeline.Status.RefreshAsync(ids, statuses);

        Assert.Equal(JobState.Completed, done.State);
        Assert.Same(done, statuses[0]);   // not read again
        Assert.Equal((JobState.Running, 1), (statuses[1]!.State, statuses[1]!.DoneImages));
        Assert.Null(statuses[2]);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pipeline.Status.RefreshAsync(ids, new JobStatus?[2]));
    }

    [Fact]
    public async Task StatusJsonIsCamelCaseWithStringEnums()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await JobProgressTests.SubmitAsync(pipeline, "json", images: 4);
        await pipeline.Progress.RecordImageAsync("json", 2);

        string json = JsonSerializer.Serialize(await pipeline.Status.GetAsync("json"), PipelineJson.Options);

        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        Assert.Equal("json", root.GetProperty("id").GetString());
        Assert.Equal("running", root.GetProperty("state").GetString());
        Assert.Equal(0.25, root.GetProperty("progress").GetDouble());
        Assert.Equal("normal", root.GetProperty("priority").GetString());
        Assert.Equal(2, root.GetProperty("images")[0].GetProperty("index").GetInt32());
        Assert.False(root.TryGetProperty("error", out _));
    }

    // A pipeline with two jobs: `unfinished` of two images, none recorded, and `completed` of one image, recorded.
    private async Task<TestPipeline> CreatePipelineWithJobsAsync(string unfinished, string completed)
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await JobProgressTests.SubmitAsync(pipeline, unfinished, images: 2);
        await JobProgressTests.SubmitAsync(pipeline, completed, images: 1);
        await pipeline.Progress.RecordImageAsync(completed, 0);
        return pipeline;
    }

    private async Task<TestPipeline> CreatePipelineAsync()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        return pipeline;
    }
}
