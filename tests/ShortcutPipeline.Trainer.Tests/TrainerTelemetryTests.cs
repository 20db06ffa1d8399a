using System.Diagnostics;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>The trainer's span and metrics, as the shared setup exports them (in-memory exporter).</summary>
public sealed class TrainerTelemetryTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task ARunIsASpanWithItsRunIdAndModelAndItsStepsCheckpointsAndPromotionAreCounted()
    {
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Trainer, [TrainerMetrics.MeterName]);
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        await context.Training.Launcher.LaunchAsync(TrainerTestContext.TinyRequest("observed", steps: 6, checkpointEvery: 3), TrainingTrigger.Manual);

        Assert.Equal(TrainingMessageOutcome.Succeeded, await context.Consumer.RunOnceAsync());
        telemetry.Flush();

        Activity run = Assert.Single(telemetry.Spans, span => span.OperationName == SpanNames.TrainingRun);
        Assert.Equal(("observed", TrainerTestContext.Model, "DiT-Tiny/2", 6L, "succeeded"), (
            run.GetTagItem(TelemetryAttributes.RunId), run.GetTagItem(TelemetryAttributes.Model), run.GetTagItem(TelemetryAttributes.Preset),
            run.GetTagItem(TelemetryAttributes.Steps), run.GetTagItem(TelemetryAttributes.Outcome)));
        Assert.Equal(ActivityStatusCode.Unset, run.Status);
        Assert.Contains(telemetry.Spans, span => span.Kind == ActivityKind.Client && span.ParentSpanId == run.SpanId);   // its storage calls
        var model = (TelemetryAttributes.Model, (object?)TrainerTestContext.Model);
        Assert.Equal(1, telemetry.Total(TrainerMetrics.Requests, (TelemetryAttributes.Outcome, "succeeded")));
        Assert.Equal(6, telemetry.Total(TrainerMetrics.Steps, model));
        Assert.Equal(2, telemetry.Total(TrainerMetrics.Checkpoints, model));
        Assert.Equal(1, telemetry.Total(TrainerMetrics.Promotions, model));
        Assert.True(telemetry.Total(TrainerMetrics.Loss) > 0);
        Assert.True(telemetry.Total(TrainerMetrics.ImagesPerSecond) > 0);
    }

    [Fact]
    public async Task ABadRequestIsAFailedRunInItsSpanAndCounted()
    {
        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Trainer, [TrainerMetrics.MeterName]);
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output);
        await context.Storage.TrainingQueue.SendMessageAsync("""{ "runId": "unfit", "model": "fashion", "preset": "DiT-Huge/9", "dataset": "fashion-mnist", "steps": 10 }""");

        Assert.Equal(TrainingMessageOutcome.Failed, await context.Consumer.RunOnceAsync());
        telemetry.Flush();

        Activity run = Assert.Single(telemetry.Spans, span => span.OperationName == SpanNames.TrainingRun);
        Assert.Equal(("unfit", "failed"), (run.GetTagItem(TelemetryAttributes.RunId), run.GetTagItem(TelemetryAttributes.Outcome)));
        Assert.Equal(1, telemetry.Total(TrainerMetrics.Requests, (TelemetryAttributes.Outcome, "failed")));
    }
}
