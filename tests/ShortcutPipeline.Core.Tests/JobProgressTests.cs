using System.Net;
using System.Text;
using System.Text.Json;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

public sealed class JobProgressTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task RecordingAnImageTwiceCountsItOnce()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await SubmitAsync(pipeline, "twice", images: 3);

        ImageRecordResult first = await pipeline.Progress.RecordImageAsync("twice", 1);
        ImageRecordResult second = await pipeline.Progress.RecordImageAsync("twice", 1);

        Assert.Equal((ImageRecordOutcome.Recorded, JobState.Running, 1), (first.Outcome, first.State, first.DoneImages));
        Assert.Equal((ImageRecordOutcome.AlreadyRecorded, 1), (second.Outcome, second.DoneImages));
        JobStatus? status = await pipeline.Status.GetAsync("twice");
        Assert.Equal(1, status?.DoneImages);
        Assert.Equal(1, Assert.Single(status!.Images).Index);
    }

    [Fact]
    public async Task AWriterThatKeepsTheStatusItWroteWritesItsNextRecordWithoutReadingFirst()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await SubmitAsync(pipeline, "known-writer", images: 4);
        var known = new KnownJobStatus();
        using var requests = StorageRequestLog.Start("PartitionKey='known-writer'");

        await pipeline.Progress.RecordImagesAsync("known-writer", [0], known);             // read, write
        await pipeline.Progress.RecordImagesAsync("known-writer", [1], known);             // write
        ImageRecordResult again = await pipeline.Progress.RecordImagesAsync("known-writer", [1], known);   // nothing to write by what it knows: read
        await pipeline.Progress.RecordImageAsync("known-writer", 2);                        // another writer: read, write
        ImageRecordResult last = await pipeline.Progress.RecordImagesAsync("known-writer", [3], known);    // refused, read, write

        Assert.Equal(["GET", "PUT", "PUT", "GET", "GET", "PUT", "PUT", "GET", "PUT"], requests.Methods);
        Assert.Equal((ImageRecordOutcome.AlreadyRecorded, 2), (again.Outcome, again.DoneImages));
        Assert.Equal((ImageRecordOutcome.CompletedJob, JobState.Completed, 4), (last.Outcome, last.State, last.DoneImages));
        JobStatus? status = await pipeline.Status.GetAsync("known-writer");
        Assert.Equal([0, 1, 2, 3], status!.Images.Select(i => i.Index));
    }

    [Fact]
    public async Task ConcurrentRecordsFromParallelWorkersAllCountAndCompleteTheJobOnce()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        const int images = 24;
        await SubmitAsync(pipeline, "parallel", images);

        // Every image reported twice (a redelivered work item), all at once.
        ImageRecordResult[] results = await Task.WhenAll(
            Enumerable.Range(0, 2 * images).Select(i => Task.Run(() => pipeline.Progress.RecordImageAsync("parallel", i % images))));

        Assert.Equal(1, results.Count(r => r.Outcome == ImageRecordOutcome.CompletedJob));
        Assert.Equal(images - 1, results.Count(r => r.Outcome == ImageRecordOutcome.Recorded));
        Assert.Equal(images, results.Count(r => r.Outcome == ImageRecordOutcome.AlreadyRecorded));
        JobStatus? status = await pipeline.Status.GetAsync("parallel");
        Assert.Equal((JobState.Completed, images, 1.0), (status?.State, status?.DoneImages, status?.Progress));
        Assert.Equal(Enumerable.Range(0, images), status!.Images.Select(i => i.Index));
        Assert.NotNull(status.FinishedAt);
    }

    [Fact]
    public async Task CompletionPostsTheStatusToTheCallback()
    {
        TestPipeline pipeline = await CreatePipelineAsync(LocalCallbacks);
        using var listener = new HttpListener();
        int port = LoopbackPorts.Free();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        await SubmitAsync(pipeline, "called-back", images: 2, callbackUrl: $"http://127.0.0.1:{port}/hooks/done");
        Task<HttpListenerContext> received = listener.GetContextAsync();

        await pipeline.Progress.RecordImageAsync("called-back", 0);
        Assert.False(received.IsCompleted);
        ImageRecordResult last = await pipeline.Progress.RecordImageAsync("called-back", 1);

        Assert.Equal(ImageRecordOutcome.CompletedJob, last.Outcome);
        HttpListenerContext context = await received.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("POST", context.Request.HttpMethod);
        Assert.Equal("/hooks/done", context.Request.Url?.AbsolutePath);
        using var reader = new StreamReader(context.Request.InputStream);
        string text = await reader.ReadToEndAsync();
        using JsonDocument body = JsonDocument.Parse(text);
        context.Response.StatusCode = 204;
        context.Response.Close();
        Assert.True(CallbackSignature.Verify(
            LocalCallbacks.SigningSecret!, context.Request.Headers[CallbackSignature.TimestampHeader],
            context.Request.Headers[CallbackSignature.SignatureHeader], Encoding.UTF8.GetBytes(text), DateTimeOffset.UtcNow));
        Assert.Equal("called-back", body.RootElement.GetProperty("id").GetString());
        Assert.Equal("completed", body.RootElement.GetProperty("state").GetString());
        Assert.Equal(2, body.RootElement.GetProperty("images").GetArrayLength());
    }

    [Fact]
    public async Task AFailingCallbackDoesNotFailTheJob()
    {
        TestPipeline pipeline = await CreatePipelineAsync(LocalCallbacks);
        // Nothing listens on this port: the POST is refused.
        await SubmitAsync(pipeline, "nobody-listens", images: 1, callbackUrl: $"http://127.0.0.1:{LoopbackPorts.Free()}/hook");

        ImageRecordResult result = await pipeline.Progress.RecordImageAsync("nobody-listens", 0);

        Assert.Equal(ImageRecordOutcome.CompletedJob, result.Outcome);
        Assert.Equal(JobState.Completed, (await pipeline.Status.GetAsync("nobody-listens"))?.State);
    }

    [Fact]
    public async Task RunningAndFailedTransitions()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await SubmitAsync(pipeline, "fails", images: 2);

        Assert.True(await pipeline.Progress.MarkRunningAsync("fails"));
        Assert.True(await pipeline.Progress.MarkRunningAsync("fails"));
        Assert.True(await pipeline.Progress.MarkFailedAsync("fails", "CUDA out of memory"));
        Assert.False(await pipeline.Progress.MarkFailedAsync("fails", "again"));
        Assert.False(await pipeline.Progress.MarkRunningAsync("fails"));
        ImageRecordResult late = await pipeline.Progress.RecordImageAsync("fails", 0);

        Assert.Equal((ImageRecordOutcome.Recorded, JobState.Failed), (late.Outcome, late.State));
        JobStatus? status = await pipeline.Status.GetAsync("fails");
        Assert.Equal((JobState.Failed, "CUDA out of memory"), (status?.State, status?.Error));
        Assert.NotNull(status?.StartedAt);
        Assert.False(await pipeline.Progress.MarkRunningAsync("no-such-job"));
        Assert.False(await pipeline.Progress.MarkFailedAsync("no-such-job", "x"));
    }

    [Fact]
    public async Task UnknownJobsAndIndicesOutsideTheJob()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await SubmitAsync(pipeline, "small", images: 2);

        Assert.Equal(ImageRecordOutcome.JobNotFound, (await pipeline.Progress.RecordImageAsync("no-such-job", 0)).Outcome);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pipeline.Progress.RecordImageAsync("small", 2));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pipeline.Progress.RecordImageAsync("small", -1));
    }

    [Fact]
    public async Task AWorkItemsImagesAreRecordedInOneUpdateAndOnlyNewOnesCount()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await SubmitAsync(pipeline, "chunked", images: 5);

        ImageRecordResult first = await pipeline.Progress.RecordImagesAsync("chunked", [0, 1, 2]);
        ImageRecordResult again = await pipeline.Progress.RecordImagesAsync("chunked", [1, 2]);
        ImageRecordResult overlapping = await pipeline.Progress.RecordImagesAsync("chunked", [2, 3]);
        ImageRecordResult last = await pipeline.Progress.RecordImagesAsync("chunked", [4]);

        Assert.Equal((ImageRecordOutcome.Recorded, JobState.Running, 3), (first.Outcome, first.State, first.DoneImages));
        Assert.Equal((ImageRecordOutcome.AlreadyRecorded, 3), (again.Outcome, again.DoneImages));
        Assert.Equal((ImageRecordOutcome.Recorded, 4), (overlapping.Outcome, overlapping.DoneImages));
        Assert.Equal((ImageRecordOutcome.CompletedJob, JobState.Completed, 5), (last.Outcome, last.State, last.DoneImages));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pipeline.Progress.RecordImagesAsync("chunked", [1, 5]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pipeline.Progress.RecordImagesAsync("chunked", []));
    }

    [Fact]
    public async Task WorkOfCancelledExpiredOrUnknownJobsIsSkipped()
    {
        var clock = new ManualTimeProvider();
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite, time: clock);
        await pipeline.RegisterModelAsync("fashion", "v1");
        string deadline = clock.GetUtcNow().AddHours(1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        await SubmitAsync(pipeline, "expires", images: 1, deadline: deadline);
        await SubmitAsync(pipeline, "cancelled", images: 1);

        Assert.False(await pipeline.Progress.IsCancelledOrExpiredAsync("expires"));
        Assert.False(await pipeline.Progress.IsCancelledOrExpiredAsync("cancelled"));
        await pipeline.Status.CancelAsync("cancelled");
        clock.Advance(TimeSpan.FromHours(2));

        Assert.True(await pipeline.Progress.IsCancelledOrExpiredAsync("expires"));
        Assert.True(await pipeline.Progress.IsCancelledOrExpiredAsync("cancelled"));
        Assert.True(await pipeline.Progress.IsCancelledOrExpiredAsync("no-such-job"));
    }

    // Callbacks to a receiver on this machine, over http, signed.
    private static readonly CallbackOptions LocalCallbacks = new()
    {
        AllowHttp = true, AllowLoopback = true, SigningSecret = "progress-tests-secret", RetryDelay = TimeSpan.FromMilliseconds(50),
    };

    private async Task<TestPipeline> CreatePipelineAsync(CallbackOptions? callbacks = null)
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite, callbackOptions: callbacks);
        await pipeline.RegisterModelAsync("fashion", "v1");
        return pipeline;
    }

    internal static async Task SubmitAsync(
        TestPipeline pipeline, string id, int images, string? callbackUrl = null, string? deadline = null,
        IntakeOutcome expected = IntakeOutcome.Accepted)
    {
        var job = new Dictionary<string, object>
        {
            ["id"] = id,
            ["model"] = new { name = "fashion" },
            ["classes"] = new[] { new { label = 1, count = images } },
            ["steps"] = 4,
        };
        if (callbackUrl is not null)
        {
            job["callbackUrl"] = callbackUrl;
        }

        if (deadline is not null)
        {
            job["deadline"] = deadline;
        }

        IntakeResult result = await pipeline.Intake.SubmitAsync(JsonSerializer.Serialize(job));
        Assert.True(result.Outcome == expected, $"{result.Outcome}: {string.Join("; ", result.Reasons)}");
    }
}
