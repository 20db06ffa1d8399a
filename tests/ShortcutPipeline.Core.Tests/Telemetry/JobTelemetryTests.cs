using System.Diagnostics;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Telemetry;

/// <summary>The spans and metrics of the intake and of job progress, as the shared setup exports them (in-memory exporter).</summary>
[Collection(TelemetryCollection.Name)]
public sealed class JobTelemetryTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task EverySpanFromIntakeToTheLastRecordedImageCarriesTheJobId()
    {
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Functions);
        string jobId = UniqueId("traced");
        TestPipeline pipeline = await CreatePipelineAsync(jobId, images: 3);

        await pipeline.Progress.MarkRunningAsync(jobId);
        await pipeline.Progress.RecordImagesAsync(jobId, [0, 1]);
        await pipeline.Progress.RecordImageAsync(jobId, 1);
        await pipeline.Progress.RecordImageAsync(jobId, 2);
        telemetry.Flush();

        IReadOnlyList<Activity> spans = OwnSpans(telemetry, jobId);
        Assert.Equal([SpanNames.SubmitJob, SpanNames.StartJob, SpanNames.RecordImages, SpanNames.RecordImages, SpanNames.RecordImages],
            spans.Select(span => span.OperationName));
        Activity submit = spans[0];
        Assert.Equal(("accepted", "queued", "fashion", "v1", 3), (
            submit.GetTagItem(TelemetryAttributes.Outcome), submit.GetTagItem(TelemetryAttributes.JobState), submit.GetTagItem(TelemetryAttributes.Model),
            submit.GetTagItem(TelemetryAttributes.ModelVersion), submit.GetTagItem(TelemetryAttributes.Images)));
        Assert.Equal("running", spans[1].GetTagItem(TelemetryAttributes.JobState));
        Assert.Equal(("recorded", 2), (spans[2].GetTagItem(TelemetryAttributes.Outcome), spans[2].GetTagItem(TelemetryAttributes.DoneImages)));
        Assert.Equal("alreadyrecorded", spans[3].GetTagItem(TelemetryAttributes.Outcome));
        Activity last = spans[4];
        Assert.Equal(("completedjob", "completed", 3, 3), (
            last.GetTagItem(TelemetryAttributes.Outcome), last.GetTagItem(TelemetryAttributes.JobState),
            last.GetTagItem(TelemetryAttributes.DoneImages), last.GetTagItem(TelemetryAttributes.TotalImages)));
        Assert.All(spans, span => Assert.Equal(ActivityStatusCode.Unset, span.Status));
    }

    [Fact]
    public async Task CancellingFailingAndRejectingAreSpansWithTheJobId()
    {
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Functions);
        TestPipeline pipeline = await CreatePipelineAsync();
        string cancelled = UniqueId("cancelled"), failed = UniqueId("failed"), rejected = UniqueId("rejected");

        await JobProgressTests.SubmitAsync(pipeline, cancelled, images: 1);
        await JobProgressTests.SubmitAsync(pipeline, failed, images: 1);
        await pipeline.Status.CancelAsync(cancelled);
        await pipeline.Progress.MarkFailedAsync(failed, "The model is broken.");
        await pipeline.Intake.SubmitAsync($$"""{ "id": "{{rejected}}", "model": { "name": "fashion" }, "steps": 3 }""");
        telemetry.Flush();

        Activity cancel = Assert.Single(OwnSpans(telemetry, cancelled), span => span.OperationName == SpanNames.CancelJob);
        Assert.Equal(("cancelled", "cancelled"), (cancel.GetTagItem(TelemetryAttributes.Outcome), cancel.GetTagItem(TelemetryAttributes.JobState)));
        Activity fail = Assert.Single(OwnSpans(telemetry, failed), span => span.OperationName == SpanNames.FailJob);
        Assert.Equal("failed", fail.GetTagItem(TelemetryAttributes.JobState));
        Activity reject = Assert.Single(OwnSpans(telemetry, rejected));
        Assert.Equal((SpanNames.SubmitJob, "rejected", "rejected"), (
            reject.OperationName, reject.GetTagItem(TelemetryAttributes.Outcome), reject.GetTagItem(TelemetryAttributes.JobState)));
    }

    [Fact]
    public async Task AFailedOperationMarksItsSpanAsFailed()
    {
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Functions);
        string jobId = UniqueId("bad-index");
        TestPipeline pipeline = await CreatePipelineAsync(jobId, images: 1);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pipeline.Progress.RecordImageAsync(jobId, 7));
        telemetry.Flush();

        Activity span = Assert.Single(OwnSpans(telemetry, jobId), span => span.OperationName == SpanNames.RecordImages);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Contains(span.Events, e => e.Name == "exception");
    }

    [Fact]
    public async Task StorageCallsAreTracedInsideThePipelinesSpansAndNotOutside()
    {
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Functions);
        TestPipeline pipeline = await CreatePipelineAsync();   // its storage calls are outside any span too
        string jobId = UniqueId("http");

        await JobProgressTests.SubmitAsync(pipeline, jobId, images: 1);
        await pipeline.Storage.WorkQueue.GetPropertiesAsync();   // outside any span, as a worker's queue polling is
        telemetry.Flush();

        Activity submit = Assert.Single(OwnSpans(telemetry, jobId));
        IReadOnlyList<Activity> calls = telemetry.Spans.Where(span => span.Kind == ActivityKind.Client).ToList();
        Assert.Contains(calls, call => call.ParentSpanId == submit.SpanId && call.TraceId == submit.TraceId);
        Assert.All(calls, call => Assert.NotEqual(default, call.ParentSpanId));
    }

    [Fact]
    public async Task IntakeAndProgressMetricsAreExported()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Worker);
        string done = UniqueId("done"), cancelled = UniqueId("cancelled");

        await JobProgressTests.SubmitAsync(pipeline, done, images: 2);
        await JobProgressTests.SubmitAsync(pipeline, done, images: 2, expected: IntakeOutcome.Duplicate);
        await JobProgressTests.SubmitAsync(pipeline, cancelled, images: 3);
        await pipeline.Intake.SubmitAsync("not json");
        await pipeline.Progress.RecordImagesAsync(done, [0, 1]);
        await pipeline.Progress.RecordImageAsync(done, 1);
        await pipeline.Progress.RecordImageAsync(cancelled, 0);
        await pipeline.Status.CancelAsync(cancelled);
        telemetry.Flush();

        Assert.Equal(2, telemetry.Total(JobMetrics.JobsSubmitted, (TelemetryAttributes.Outcome, "accepted")));
        Assert.Equal(1, telemetry.Total(JobMetrics.JobsSubmitted, (TelemetryAttributes.Outcome, "duplicate")));
        Assert.Equal(1, telemetry.Total(JobMetrics.JobsSubmitted, (TelemetryAttributes.Outcome, "rejected")));
        Assert.Equal(5, telemetry.Total(JobMetrics.ImagesAccepted));
        Assert.Equal(3, telemetry.Total(JobMetrics.ImagesRecorded, (TelemetryAttributes.Model, "fashion")));
        Assert.Equal(1, telemetry.Total(JobMetrics.JobsFinished, (TelemetryAttributes.JobState, "completed")));
        Assert.Equal(1, telemetry.Total(JobMetrics.JobsFinished, (TelemetryAttributes.JobState, "cancelled")));
        Assert.Equal(1, telemetry.Total(JobMetrics.JobDuration, (TelemetryAttributes.Model, "fashion")));
    }

    internal static string UniqueId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static IReadOnlyList<Activity> OwnSpans(TelemetryCapture telemetry, string jobId) =>
        telemetry.SpansOfJob(jobId).Where(span => span.Source.Name == PipelineTelemetry.SourceName).ToList();

    // A pipeline with model "fashion" registered and, when named, a job of it submitted.
    private async Task<TestPipeline> CreatePipelineAsync(string? jobId = null, int images = 1)
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        if (jobId is not null)
        {
            await JobProgressTests.SubmitAsync(pipeline, jobId, images);
        }

        return pipeline;
    }
}
