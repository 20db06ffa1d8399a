using System.Diagnostics.Metrics;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Model;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// The trainer's metrics, on the meter <see cref="MeterName"/>: training requests by outcome, steps trained, checkpoints
/// uploaded and versions promoted (each tagged with the model), and the latest loss and images/s as gauges.
/// </summary>
public sealed class TrainerMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "ShortcutPipeline.Trainer";

    /// <summary>Training requests taken, tagged <see cref="TelemetryAttributes.Outcome"/> (a <c>TrainingMessageOutcome</c>, or <c>error</c>).</summary>
    public const string Requests = "shortcut.trainer.requests";

    /// <summary>Training steps run, tagged <see cref="TelemetryAttributes.Model"/>.</summary>
    public const string Steps = "shortcut.trainer.steps";

    /// <summary>Checkpoints uploaded, tagged <see cref="TelemetryAttributes.Model"/>.</summary>
    public const string Checkpoints = "shortcut.trainer.checkpoints";

    /// <summary>Versions promoted to latest, tagged <see cref="TelemetryAttributes.Model"/>.</summary>
    public const string Promotions = "shortcut.trainer.promotions";

    /// <summary>The training loss of the latest step.</summary>
    public const string Loss = "shortcut.trainer.loss";

    /// <summary>Training images per second at the latest step.</summary>
    public const string ImagesPerSecond = "shortcut.trainer.images_per_second";

    private readonly Meter meter;
    private readonly Counter<long> requests;
    private readonly Counter<long> steps;
    private readonly Counter<long> checkpoints;
    private readonly Counter<long> promotions;
    private readonly object gate = new();
    private TrainingProgress? latest;

    /// <summary>Metrics on a new meter (from <paramref name="meterFactory"/> when given).</summary>
    public TrainerMetrics(IMeterFactory? meterFactory = null)
    {
        meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        requests = meter.CreateCounter<long>(Requests, "{request}", "Training requests taken, by outcome.");
        steps = meter.CreateCounter<long>(Steps, "{step}", "Training steps run.");
        checkpoints = meter.CreateCounter<long>(Checkpoints, "{checkpoint}", "Checkpoints uploaded.");
        promotions = meter.CreateCounter<long>(Promotions, "{version}", "Versions promoted to latest.");
        meter.CreateObservableGauge(Loss, () => Latest(p => p.Loss), "1", "The training loss of the latest step.");
        meter.CreateObservableGauge(ImagesPerSecond, () => Latest(p => p.ImagesPerSecond), "{image}/s", "Training images per second at the latest step.");
    }

    /// <summary>Counts a processed request.</summary>
    public void RecordRequest(string outcome) => requests.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.Outcome, outcome));

    /// <summary>Counts <paramref name="count"/> steps of <paramref name="model"/> and keeps <paramref name="progress"/> for the gauges.</summary>
    public void RecordSteps(string model, long count, TrainingProgress progress)
    {
        if (count > 0)
        {
            steps.Add(count, new KeyValuePair<string, object?>(TelemetryAttributes.Model, model));
        }

        lock (gate)
        {
            latest = progress;
        }
    }

    /// <summary>Counts an uploaded checkpoint of <paramref name="model"/>.</summary>
    public void RecordCheckpoint(string model) => checkpoints.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.Model, model));

    /// <summary>Counts a promotion of <paramref name="model"/>.</summary>
    public void RecordPromotion(string model) => promotions.Add(1, new KeyValuePair<string, object?>(TelemetryAttributes.Model, model));

    /// <summary>Disposes the meter.</summary>
    public void Dispose() => meter.Dispose();

    private IEnumerable<Measurement<double>> Latest(Func<TrainingProgress, double> value)
    {
        lock (gate)
        {
            return latest is null ? [] : [new Measurement<double>(value(latest))];
        }
    }
}
