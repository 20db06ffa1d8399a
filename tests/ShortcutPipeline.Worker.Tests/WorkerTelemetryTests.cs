using System.Diagnostics;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>A job's spans and the worker's metrics from intake to the last stored PNG, exported by the worker's telemetry setup.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class WorkerTelemetryTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task TheJobIdIsOnEverySpanFromIntakeToTheLastStoredImageAndTheWorkerMetricsAreExported()
    {
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Worker, [WorkerMetrics.MeterName]);
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await TestModels.RegisterAsync(pipeline, TestModels.Tiny, model: "observed");
        const string jobId = "observed-job";
        await using (InProcessWorker worker = await InProcessWorker.StartAsync(pipeline, options => options.MaxRowsPerPass = 4))
        {
            Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(
                $$"""{ "id": "{{jobId}}", "model": { "name": "observed" }, "classes": [ { "label": 1, "count": 6 } ], "steps": 2 }""")).Outcome);
            Assert.Equal(JobState.Completed, Assert.Single(await Wait.ForJobsAsync(pipeline, [jobId])).State);
        }

        telemetry.Flush();

        IReadOnlyList<Activity> spans = telemetry.SpansOfJob(jobId);
        Assert.Equal(SpanNames.SubmitJob, spans[0].OperationName);
        IReadOnlyList<Activity> recorded = spans.Where(span => span.OperationName == SpanNames.RecordImages).ToList();
        Assert.Equal(6, recorded.Sum(span => (int)span.GetTagItem(TelemetryAttributes.Images)!));
        Activity last = recorded[^1];
        Assert.Equal(("completedjob", 6, 6), (
            last.GetTagItem(TelemetryAttributes.Outcome), last.GetTagItem(TelemetryAttributes.DoneImages), last.GetTagItem(TelemetryAttributes.TotalImages)));
        Assert.Same(last, spans[^1]);
        var model = (TelemetryAttributes.Model, (object?)"observed");
        Assert.Equal(6, telemetry.Total("shortcut.worker.images", ("model", "observed")));
        Assert.True(telemetry.Total("shortcut.worker.forward_passes", ("model", "observed")) >= 2);
        Assert.Equal(6, telemetry.Total(JobMetrics.ImagesRecorded, model));
        Assert.Equal(1, telemetry.Total(JobMetrics.JobsFinished, (TelemetryAttributes.JobState, "completed")));
    }
}
