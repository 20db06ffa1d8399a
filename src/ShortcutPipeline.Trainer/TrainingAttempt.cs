using System.Net;
using Azure;
using Azure.Storage.Blobs;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;
using static TorchSharp.torch;
using ModelTrainer = ShortcutPipeline.Model.Trainer;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// Trains a claimed run, the middle part of <see cref="TrainingRunner"/>: in a fresh work folder (deleted afterwards), marks
/// the run Running, fetches the data, resumes from the run's newest checkpoint blob if there is one (or, when that is the
/// final one, only scores and promotes it), trains to the request's total with the model library's
/// <see cref="TrainingLoop"/> while the run's step is recorded every <see cref="TrainerHostOptions.ProgressInterval"/>,
/// hands each checkpoint to the <see cref="CheckpointPublisher"/>, and marks the run Succeeded. A request that cannot be
/// trained throws <see cref="TrainingRequestException"/>; steps are counted in <see cref="TrainerMetrics"/>.
/// </summary>
internal sealed class TrainingAttempt(
    PipelineStorage storage, TrainingRunStore runs, TrainingDatasets datasets, TrainerHostOptions options, CheckpointPublisher publisher,
    TrainerMetrics metrics, string trainerName, ILogger logger)
{
    private BlobContainerClient Checkpoints => storage.CheckpointsContainer;

    public async Task TrainAsync(TrainingRequest request, TrainingRun run, CancellationToken cancellationToken)
    {
        string workFolder = Path.Combine(options.WorkDirectory, $"{request.RunId}-{Guid.NewGuid():N}");
        string outputFolder = Path.Combine(workFolder, "run");
        Directory.CreateDirectory(outputFolder);
        try
        {
            long? resumeStep = await publisher.NewestCheckpointStepAsync(request, cancellationToken).ConfigureAwait(false);
            run = await runs.MarkRunningAsync(request.RunId, trainerName, resumeStep, cancellationToken).ConfigureAwait(false) ?? run;
            if (resumeStep is long from)
            {
                logger.LogInformation("Resuming run {RunId} from its checkpoint at step {Step} of {Total} (attempt {Attempt}).",
                    request.RunId, from, request.Steps, run.Attempts);
            }
            else
            {
                logger.LogInformation("Starting run {RunId}: {Preset}, {Steps} steps on {Dataset} (attempt {Attempt}).",
                    request.RunId, request.Preset, request.Steps, request.Dataset, run.Attempts);
            }

            Device device = Devices.Parse(options.Device);
            DiTConfig config = TrainingSetup.Config(request);
            using ImageDataset data = await TrainingSetup.OpenDatasetAsync(
                request, config, datasets, Path.Combine(workFolder, "data"), cancellationToken).ConfigureAwait(false);
            using QualityGate? gate = request.Promotion is { } policy
                ? await QualityGate.CreateAsync(policy, data, Checkpoints.GetBlobClient(TrainingBlobNames.File(request.Model, request.RunId, TrainingBlobNames.QualityClassifierFileName)),
                    Path.Combine(workFolder, TrainingBlobNames.QualityClassifierFileName), request.Seed, device, logger, cancellationToken).ConfigureAwait(false)
                : null;
            var context = new RunContext(request, run, data.NumClasses, gate);

            if (resumeStep >= request.Steps)
            {
                // A crash after the final checkpoint's upload: score and promote it from Blob Storage.
                long step = resumeStep.Value;
                string sampling = Path.Combine(outputFolder, TrainingLoop.SamplingName(step));
                await Checkpoints.GetBlobClient(TrainingBlobNames.SamplingModel(request.Model, request.RunId, step))
                    .DownloadToAsync(sampling, cancellationToken).ConfigureAwait(false);
                await publisher.AfterCheckpointAsync(context, step, sampling, Checkpoint.ReadInfo(sampling).Metrics, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                using ModelTrainer trainer = await OpenTrainerAsync(request, config, data, resumeStep, outputFolder, device, cancellationToken)
                    .ConfigureAwait(false);
                await TrainToTotalAsync(context, trainer, data, outputFolder, cancellationToken).ConfigureAwait(false);
            }

            await publisher.FinishAsync(context, cancellationToken).ConfigureAwait(false);
            await runs.MarkSucceededAsync(request.RunId, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Run {RunId} succeeded at step {Step}.", request.RunId, request.Steps);
        }
        finally
        {
            TryDelete(workFolder);
        }
    }

    // The one place that makes the model library's trainer of a request: a new one from the request's model and training
    // options (TrainingSetup), or the one resumed from the run's newest checkpoint.
    private async Task<ModelTrainer> OpenTrainerAsync(
        TrainingRequest request, DiTConfig config, ImageDataset data, long? resumeStep, string outputFolder, Device device, CancellationToken cancellationToken) =>
        resumeStep is long step
            ? await ResumeAsync(request, step, outputFolder, device, cancellationToken).ConfigureAwait(false)
            : new ModelTrainer(config with { NumClasses = data.NumClasses, ClassNames = data.ClassNames }, request.ToTrainingConfig(), device);

    private async Task TrainToTotalAsync(RunContext context, ModelTrainer trainer, ImageDataset data, string outputFolder, CancellationToken cancellationToken)
    {
        TrainingRequest request = context.Request;
        var loop = new TrainingLoopOptions
        {
            OutputDirectory = outputFolder,
            TotalSteps = request.Steps,
            CheckpointEvery = request.CheckpointEvery,
            KeepCheckpoints = 1,
        };
        var progress = new LatestProgress(metrics, request.Model, trainer.Step);
        using var stopRecording = new CancellationTokenSource();
        Task recording = Task.Run(() => RecordProgressAsync(request, progress, trainer.Step, stopRecording.Token), CancellationToken.None);
        try
        {
            // Training blocks its thread between checkpoints: keep it off the caller's.
            await Task.Run(() => TrainingLoop.RunAsync(trainer, data, loop, progress,
                (files, token) => publisher.OnCheckpointAsync(context, files, token), cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await stopRecording.CancelAsync().ConfigureAwait(false);
            await recording.ConfigureAwait(false);
        }
    }

    // Every ProgressInterval while training runs: the latest step, logged and written to the run's record when it moved.
    // A failed write is logged and tried again at the next interval.
    private async Task RecordProgressAsync(TrainingRequest request, LatestProgress progress, long recordedStep, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.ProgressInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (progress.Latest is not { } latest || latest.Step == recordedStep)
                {
                    continue;
                }

                recordedStep = latest.Step;
                logger.LogInformation("Run {RunId}: step {Step}/{Total}, loss {Loss:F4}, {Rate:F0} images/s.",
                    request.RunId, latest.Step, latest.TotalSteps, latest.Loss, latest.ImagesPerSecond);
                try
                {
                    await runs.RecordProgressAsync(request.RunId, latest.Step, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    logger.LogWarning(exception, "Could not record the progress of run {RunId}; trying again at the next interval.", request.RunId);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Training ended.
        }
    }

    private async Task<ModelTrainer> ResumeAsync(TrainingRequest request, long step, string outputFolder, Device device, CancellationToken cancellationToken)
    {
        string checkpoint = Path.Combine(outputFolder, TrainingLoop.CheckpointName(step));
        await Checkpoints.GetBlobClient(TrainingBlobNames.Checkpoint(request.Model, request.RunId, step))
            .DownloadToAsync(checkpoint, cancellationToken).ConfigureAwait(false);
        try
        {
            // The loss log continues where the checkpoint stopped (the training loop drops rows past its step).
            await Checkpoints.GetBlobClient(TrainingBlobNames.File(request.Model, request.RunId, TrainingBlobNames.LossCsvFileName))
                .DownloadToAsync(Path.Combine(outputFolder, TrainingLoop.LossCsvName), cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.NotFound)
        {
            logger.LogWarning("Run {RunId} has no loss.csv in Blob Storage; the loss log starts again at step {Step}.", request.RunId, step);
        }

        return Checkpoint.Resume(checkpoint, device);
    }

    private void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (IOException exception)
        {
            logger.LogWarning(exception, "Could not delete the work folder {Folder}.", folder);
        }
    }
}

/// <summary>
/// Keeps the latest progress report (the training loop reports on its own thread, every step) and counts the steps in
/// the metrics, from the step the trainer starts at.
/// </summary>
internal sealed class LatestProgress(TrainerMetrics metrics, string model, long startStep) : IProgress<TrainingProgress>
{
    private TrainingProgress? latest;
    private long countedStep = startStep;

    public TrainingProgress? Latest => Volatile.Read(ref latest);

    public void Report(TrainingProgress value)
    {
        Volatile.Write(ref latest, value);
        metrics.RecordSteps(model, value.Step - countedStep, value);
        countedStep = value.Step;
    }
}
