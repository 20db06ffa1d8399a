using System.Globalization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Model;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// Publishes what a run trains, the last part of <see cref="TrainingRunner"/>: uploads each checkpoint's files (sampling
/// export, grid, loss.csv, loss.png, then the resumable checkpoint, so that a checkpoint in Blob Storage means every other
/// file of its step is there too), keeps the newest <see cref="TrainerHostOptions.KeepCheckpoints"/> resumable checkpoints,
/// scores each checkpoint under a quality policy (<see cref="QualityGate"/>), records it on the run, and promotes as the
/// request's policy says: the first checkpoint that meets the bar, or without a policy the final one. Checkpoints and
/// promotions are counted in <see cref="TrainerMetrics"/>.
/// </summary>
internal sealed class CheckpointPublisher(
    PipelineStorage storage, TrainingRunStore runs, ModelRegistry registry, TrainerHostOptions options, TrainerMetrics trainerMetrics, ILogger logger)
{
    private BlobContainerClient Checkpoints => storage.CheckpointsContainer;

    public async Task OnCheckpointAsync(RunContext context, CheckpointFiles files, CancellationToken cancellationToken)
    {
        TrainingRequest request = context.Request;
        (string Path, string Blob, string ContentType)[] uploads =
        [
            (files.SamplingModel, TrainingBlobNames.SamplingModel(request.Model, request.RunId, files.Step), "application/octet-stream"),
            (files.SampleGrid, TrainingBlobNames.SampleGrid(request.Model, request.RunId, files.Step), "image/png"),
            (files.LossCsv, TrainingBlobNames.File(request.Model, request.RunId, TrainingBlobNames.LossCsvFileName), "text/csv"),
            (files.LossPlot, TrainingBlobNames.File(request.Model, request.RunId, TrainingBlobNames.LossPlotFileName), "image/png"),
            // Last: a resumable checkpoint in Blob Storage means that every other file of its step is there too.
            (files.Checkpoint, TrainingBlobNames.Checkpoint(request.Model, request.RunId, files.Step), "application/octet-stream"),
        ];
        foreach ((string path, string blob, string contentType) in uploads)
        {
            await Checkpoints.GetBlobClient(blob).UploadAsync(path,
                new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = contentType } }, cancellationToken).ConfigureAwait(false);
        }

        logger.LogInformation("Run {RunId}: checkpoint of step {Step} uploaded ({Blob}).", request.RunId, files.Step, uploads[^1].Blob);
        trainerMetrics.RecordCheckpoint(request.Model);
        await AfterCheckpointAsync(context, files.Step, files.SamplingModel, files.Metrics, cancellationToken).ConfigureAwait(false);
        await DeleteOldCheckpointsAsync(request, cancellationToken).ConfigureAwait(false);
    }

    // Scores the checkpoint (under a quality policy), records it, and promotes it when it meets the policy's bar.
    public async Task AfterCheckpointAsync(
        RunContext context, long step, string samplingModel, IReadOnlyDictionary<string, double> fileMetrics, CancellationToken cancellationToken)
    {
        TrainingRequest request = context.Request;
        var metrics = new Dictionary<string, double>(fileMetrics);
        bool passes = false;
        if (context.Gate is { } gate)
        {
            double distance = gate.Evaluate(samplingModel, cancellationToken);
            metrics[gate.MetricName] = distance;
            metrics[gate.BestMetricName] = Math.Min(distance, context.Run.Metrics.GetValueOrDefault(gate.BestMetricName, double.PositiveInfinity));
            passes = gate.Passes(distance);
            logger.LogInformation("Run {RunId}: step {Step} has a Fréchet distance of {Distance:F2} at {Budget} steps (the bar is {Bar}).",
                request.RunId, step, distance, gate.Policy.Budget, gate.Policy.MaxFrechetDistance);
        }

        context.Run = await runs.RecordCheckpointAsync(
            request.RunId, step, TrainingBlobNames.Checkpoint(request.Model, request.RunId, step), metrics, cancellationToken).ConfigureAwait(false)
            ?? context.Run;
        if (passes)
        {
            await PromoteAsync(context, step, metrics, string.Create(CultureInfo.InvariantCulture,
                $"its Fréchet distance at {context.Gate!.Policy.Budget} steps, {metrics[context.Gate.MetricName]:F2}, meets the bar of {context.Gate.Policy.MaxFrechetDistance}"),
                cancellationToken).ConfigureAwait(false);
        }
    }

    // Without a policy: promote the final checkpoint. With one: if no checkpoint met the bar, register the final one (not promoted) and say why.
    public async Task FinishAsync(RunContext context, CancellationToken cancellationToken)
    {
        TrainingRequest request = context.Request;
        IReadOnlyDictionary<string, double> metrics = context.Run.Metrics;
        if (context.Gate is not { } gate)
        {
            await PromoteAsync(context, request.Steps, metrics, "the run finished", cancellationToken).ConfigureAwait(false);
            return;
        }

        if (context.Run.PromotedVersion is not null)
        {
            return;
        }

        ModelManifest manifest = await registry.RegisterVersionAsync(Manifest(context, request.Steps, metrics), cancellationToken).ConfigureAwait(false);
        string note = string.Create(CultureInfo.InvariantCulture,
            $"No checkpoint met the promotion bar: the best Fréchet distance at {gate.Policy.Budget} steps was {metrics.GetValueOrDefault(gate.BestMetricName, double.NaN):F2}, above {gate.Policy.MaxFrechetDistance}. The final checkpoint is registered as version {manifest.Version} (pin it to use it) but not promoted.");
        logger.LogWarning("Run {RunId}: {Note}", request.RunId, note);
        context.Run = await runs.RecordPromotionAsync(request.RunId, null, note, cancellationToken).ConfigureAwait(false) ?? context.Run;
    }

    private async Task PromoteAsync(
        RunContext context, long step, IReadOnlyDictionary<string, double> metrics, string why, CancellationToken cancellationToken)
    {
        TrainingRequest request = context.Request;
        PromotionResult result = await registry.PromoteIfNewerAsync(Manifest(context, step, metrics), cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        string version = TrainingBlobNames.VersionName(request.RunId, step);
        if (result.Promoted)
        {
            trainerMetrics.RecordPromotion(request.Model);
        }

        string note = result.Promoted
            ? $"Promoted {version}: {why}."
            : $"{version} is registered but not promoted ({why}): the latest version of {request.Model}, {result.Latest?.Manifest.Version}, is newer.";
        logger.LogInformation("Run {RunId}: {Note}", request.RunId, note);
        context.Run = await runs.RecordPromotionAsync(request.RunId, result.Promoted ? version : null, note, cancellationToken).ConfigureAwait(false)
            ?? context.Run;
    }

    private static ModelManifest Manifest(RunContext context, long step, IReadOnlyDictionary<string, double> metrics) => new()
    {
        Model = context.Request.Model,
        Version = TrainingBlobNames.VersionName(context.Request.RunId, step),
        Checkpoint = TrainingBlobNames.SamplingModel(context.Request.Model, context.Request.RunId, step),
        NumClasses = context.NumClasses,
        Metrics = metrics,
        TrainedBy = new TrainingRunReference(context.Request.RunId, context.Run.CreatedAt, step),
    };

    public async Task<long?> NewestCheckpointStepAsync(TrainingRequest request, CancellationToken cancellationToken) =>
        (await CheckpointStepsAsync(request, cancellationToken).ConfigureAwait(false)).Cast<long?>().FirstOrDefault();

    // The steps of the run's resumable checkpoints in Blob Storage, newest first.
    private async Task<IReadOnlyList<long>> CheckpointStepsAsync(TrainingRequest request, CancellationToken cancellationToken)
    {
        var steps = new List<long>();
        string prefix = TrainingBlobNames.RunPrefix(request.Model, request.RunId);
        await foreach (BlobItem blob in Checkpoints.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken).ConfigureAwait(false))
        {
            if (TrainingBlobNames.CheckpointStepOf(blob.Name) is long step)
            {
                steps.Add(step);
            }
        }

        return steps.OrderDescending().ToList();
    }

    private async Task DeleteOldCheckpointsAsync(TrainingRequest request, CancellationToken cancellationToken)
    {
        foreach (long step in (await CheckpointStepsAsync(request, cancellationToken).ConfigureAwait(false)).Skip(options.KeepCheckpoints))
        {
            await Checkpoints.DeleteBlobIfExistsAsync(TrainingBlobNames.Checkpoint(request.Model, request.RunId, step), cancellationToken: cancellationToken)
                .ConfigureAwait(false);
        }
    }
}

/// <summary>What the checkpoint handler and the finish of one attempt share.</summary>
internal sealed class RunContext(TrainingRequest request, TrainingRun run, int numClasses, QualityGate? gate)
{
    public TrainingRequest Request { get; } = request;

    public TrainingRun Run { get; set; } = run;

    public int NumClasses { get; } = numClasses;

    public QualityGate? Gate { get; } = gate;
}
