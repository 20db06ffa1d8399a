using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;
using static TorchSharp.torch;
using ModelTrainer = ShortcutPipeline.Model.Trainer;

namespace ShortcutPipeline.Trainer;

/// <summary>What <see cref="TrainingRunner.ProcessAsync"/> did with a training request.</summary>
public enum TrainingMessageOutcome
{
    /// <summary>The run trained to its total and was promoted as its policy says; the message is deleted.</summary>
    Succeeded,

    /// <summary>The request cannot be trained: the run is Failed with the reasons; the message is deleted.</summary>
    Failed,

    /// <summary>The run had finished already (a repeated delivery); the message is deleted.</summary>
    AlreadyFinished,

    /// <summary>Another trainer holds the run's lease: the message is left alone and shows again after the busy delay.</summary>
    Busy,
}

/// <summary>
/// Trains one training request from the queue. Per request: read it (a bad one fails its run), take the run's blob
/// lease (held elsewhere: leave the message alone), keep the message invisible while working, mark the run Running,
/// fetch the data, resume from the run's newest checkpoint blob if there is one, train with the model library's
/// <see cref="TrainingLoop"/>, upload each checkpoint's files (sampling export, grid, loss.csv, loss.png, then the
/// resumable checkpoint) and record them, promote as the request's policy says, mark the run Succeeded and delete the
/// message. An unexpected error records the error and rethrows, leaving the message to be delivered again: the next
/// delivery resumes from the last checkpoint. Each request is a span (<see cref="SpanNames.TrainingRun"/>) with the run id and
/// model, and is counted, with its steps, checkpoints and promotions, in <see cref="TrainerMetrics"/>.
/// </summary>
public sealed partial class TrainingRunner
{
    private readonly PipelineStorage storage;
    private readonly TrainingRunStore runs;
    private readonly TrainingDatasets datasets;
    private readonly ModelRegistry registry;
    private readonly TrainerHostOptions options;
    private readonly TrainingRequestReader reader;
    private readonly ILogger logger;
    private readonly TrainerMetrics metrics;
    private readonly TimeProvider time;
    private readonly string trainerName = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>A runner over the given services.</summary>
    public TrainingRunner(
        PipelineStorage storage, TrainingRunStore runs, TrainingDatasets datasets, ModelRegistry registry, TrainerHostOptions options,
        ILogger<TrainingRunner> logger, TimeProvider? time = null, TrainerMetrics? metrics = null)
    {
        this.storage = storage ?? throw new ArgumentNullException(nameof(storage));
        this.runs = runs ?? throw new ArgumentNullException(nameof(runs));
        this.datasets = datasets ?? throw new ArgumentNullException(nameof(datasets));
        this.registry = registry ?? throw new ArgumentNullException(nameof(registry));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.logger = logger ?? throw new ArgumentNullException(nameof(logger));
        this.metrics = metrics ?? new TrainerMetrics();
        options.Validate();
        this.time = time ?? TimeProvider.System;
        reader = new TrainingRequestReader(time);
    }

    private BlobContainerClient Checkpoints => storage.CheckpointsContainer;

    /// <summary>Processes one received message (received with the options' visibility timeout).</summary>
    public Task<TrainingMessageOutcome> ProcessAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return PipelineTelemetry.TraceAsync(SpanNames.TrainingRun, null, async span =>
        {
            try
            {
                TrainingMessageOutcome outcome = await ProcessUntracedAsync(message, span, cancellationToken).ConfigureAwait(false);
                span?.SetTag(TelemetryAttributes.Outcome, PipelineTelemetry.Lower(outcome));
                metrics.RecordRequest(PipelineTelemetry.Lower(outcome));
                return outcome;
            }
            catch
            {
                metrics.RecordRequest("error");
                throw;
            }
        });
    }

    private async Task<TrainingMessageOutcome> ProcessUntracedAsync(QueueMessage message, Activity? span, CancellationToken cancellationToken)
    {
        // The message stays invisible while its run trains: renewed every third of the (long) visibility timeout.
        await using QueueMessageLease hold = QueueMessageLease.Hold(
            storage.TrainingQueue, message, options.VisibilityTimeout, options.VisibilityTimeout / 3, time, logger);
        string text = hold.Text;
        TrainingRequestReadResult read = reader.Read(text, "q-" + NotRunIdCharacter().Replace(message.MessageId, "-"));
        span?.SetTag(TelemetryAttributes.RunId, read.RunId).SetTag(TelemetryAttributes.Model, read.Model);
        if (read.Request is not { } request)
        {
            await FailAsync(read.RunId, read.Model, text, read.ContentHash, read.Reasons, cancellationToken).ConfigureAwait(false);
            await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
            return TrainingMessageOutcome.Failed;
        }

        span?.SetTag(TelemetryAttributes.Preset, request.Preset).SetTag(TelemetryAttributes.Steps, request.Steps);
        BlobClient leaseBlob = Checkpoints.GetBlobClient(TrainingBlobNames.File(request.Model, request.RunId, TrainingBlobNames.LeaseFileName));
        await using RunLease? lease = await RunLease.TryAcquireAsync(leaseBlob, options.LeaseDuration, logger, cancellationToken).ConfigureAwait(false);
        if (lease is null)
        {
            logger.LogInformation("Run {RunId} is leased by another trainer; its request shows again in {Delay}.", request.RunId, options.BusyRetryDelay);
            await hold.ReleaseAsync(options.BusyRetryDelay, cancellationToken).ConfigureAwait(false);
            return TrainingMessageOutcome.Busy;
        }

        TrainingRun? run = await RecordedRunAsync(request, read, text, cancellationToken).ConfigureAwait(false);
        if (run is null || run.State.IsTerminal())
        {
            logger.LogInformation("Run {RunId} is {State} already; deleting its request.", request.RunId, run?.State.ToString() ?? "rejected");
            await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
            return run is null ? TrainingMessageOutcome.Failed : TrainingMessageOutcome.AlreadyFinished;
        }

        if (run.Attempts >= options.MaxAttempts)
        {
            await runs.MarkFailedAsync(run.RunId, [string.Create(CultureInfo.InvariantCulture,
                $"The run was started {run.Attempts} times without finishing (the limit is {options.MaxAttempts}); the last error: {run.LastError ?? "none recorded (was the trainer killed?)"}")],
                cancellationToken).ConfigureAwait(false);
            await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
            return TrainingMessageOutcome.Failed;
        }

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost);
        try
        {
            await TrainAsync(request, run, stopping.Token).ConfigureAwait(false);
        }
        catch (TrainingRequestException exception)
        {
            logger.LogWarning("Run {RunId} cannot be trained: {Reasons}", request.RunId, string.Join(" ", exception.Reasons));
            await runs.MarkFailedAsync(request.RunId, exception.Reasons, cancellationToken).ConfigureAwait(false);
            await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
            return TrainingMessageOutcome.Failed;
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            string error = lease.Lost.IsCancellationRequested
                ? $"The trainer {trainerName} lost the run's lease and stopped."
                : $"{exception.GetType().Name}: {exception.Message}";
            logger.LogError(exception, "Run {RunId} stopped: {Error}. Its request is delivered again and resumes from the last checkpoint.", request.RunId, error);
            await runs.RecordErrorAsync(request.RunId, error, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        await hold.DeleteAsync(cancellationToken).ConfigureAwait(false);
        return TrainingMessageOutcome.Succeeded;
    }

    // The run of a valid request: as the launcher recorded it, or recorded now for a request put on the queue directly.
    // Null when the run id is another request's (then the request is recorded as rejected under a derived id).
    private async Task<TrainingRun?> RecordedRunAsync(TrainingRequest request, TrainingRequestReadResult read, string text, CancellationToken cancellationToken)
    {
        TrainingRun? run = await runs.GetAsync(request.RunId, cancellationToken).ConfigureAwait(false);
        if (run is null)
        {
            string fingerprint = await datasets.FingerprintAsync(request.Dataset, cancellationToken).ConfigureAwait(false);
            (run, _) = await runs.CreateAsync(request, TrainingTrigger.Queue, fingerprint, cancellationToken).ConfigureAwait(false);
        }

        if (run.Request is { } recorded && recorded.ConfigurationFingerprint() == request.ConfigurationFingerprint())
        {
            return run;
        }

        await FailAsync(TrainingRequestReader.RejectedRunId(read.ContentHash), request.Model, text, read.ContentHash, [TrainingLauncher.TakenRunIdReason(run)], cancellationToken)
            .ConfigureAwait(false);
        return null;
    }

    private async Task FailAsync(
        string runId, string? model, string text, string contentHash, IReadOnlyList<string> reasons, CancellationToken cancellationToken)
    {
        logger.LogWarning("Training request {RunId} is not valid: {Reasons}", runId, string.Join(" ", reasons));
        (TrainingRun run, bool created) = await runs.RecordRejectedAsync(runId, model, text, contentHash, reasons, TrainingTrigger.Queue, cancellationToken)
            .ConfigureAwait(false);
        if (!created && !run.State.IsTerminal())
        {
            await runs.MarkFailedAsync(runId, reasons, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task TrainAsync(TrainingRequest request, TrainingRun run, CancellationToken cancellationToken)
    {
        string workFolder = Path.Combine(options.WorkDirectory, $"{request.RunId}-{Guid.NewGuid():N}");
        string outputFolder = Path.Combine(workFolder, "run");
        Directory.CreateDirectory(outputFolder);
        try
        {
            long? resumeStep = await NewestCheckpointStepAsync(request, cancellationToken).ConfigureAwait(false);
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
                await AfterCheckpointAsync(context, step, sampling, Checkpoint.ReadInfo(sampling).Metrics, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                using ModelTrainer trainer = resumeStep is long step
                    ? await ResumeAsync(request, step, outputFolder, device, cancellationToken).ConfigureAwait(false)
                    : new ModelTrainer(config with { NumClasses = data.NumClasses, ClassNames = data.ClassNames }, TrainingSetup.Options(request), device);
                await TrainToTotalAsync(context, trainer, data, outputFolder, cancellationToken).ConfigureAwait(false);
            }

            await FinishAsync(context, cancellationToken).ConfigureAwait(false);
            await runs.MarkSucceededAsync(request.RunId, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Run {RunId} succeeded at step {Step}.", request.RunId, request.Steps);
        }
        finally
        {
            TryDelete(workFolder);
        }
    }

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
        long recordedStep = trainer.Step;
        await using var progressRecorder = new PeriodicRenewal(options.ProgressInterval, async token =>
        {
            if (progress.Latest is { } latest && latest.Step != recordedStep)
            {
                recordedStep = latest.Step;
                logger.LogInformation("Run {RunId}: step {Step}/{Total}, loss {Loss:F4}, {Rate:F0} images/s.",
                    request.RunId, latest.Step, latest.TotalSteps, latest.Loss, latest.ImagesPerSecond);
                await runs.RecordProgressAsync(request.RunId, latest.Step, token).ConfigureAwait(false);
            }
        }, PeriodicRenewal.LogAndContinue(logger, $"record the progress of run {request.RunId}"));

        // Training blocks its thread between checkpoints: keep it off the caller's.
        await Task.Run(() => TrainingLoop.RunAsync(trainer, data, loop, progress,
            (files, token) => OnCheckpointAsync(context, files, token), cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private async Task OnCheckpointAsync(RunContext context, CheckpointFiles files, CancellationToken cancellationToken)
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
        metrics.RecordCheckpoint(request.Model);
        await AfterCheckpointAsync(context, files.Step, files.SamplingModel, files.Metrics, cancellationToken).ConfigureAwait(false);
        await DeleteOldCheckpointsAsync(request, cancellationToken).ConfigureAwait(false);
    }

    // Scores the checkpoint (under a quality policy), records it, and promotes it when it meets the policy's bar.
    private async Task AfterCheckpointAsync(
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
    private async Task FinishAsync(RunContext context, CancellationToken cancellationToken)
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
            this.metrics.RecordPromotion(request.Model);
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

    private async Task<long?> NewestCheckpointStepAsync(TrainingRequest request, CancellationToken cancellationToken) =>
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

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex NotRunIdCharacter();

    /// <summary>What the checkpoint handler and the finish of one attempt share.</summary>
    private sealed class RunContext(TrainingRequest request, TrainingRun run, int numClasses, QualityGate? gate)
    {
        public TrainingRequest Request { get; } = request;

        public TrainingRun Run { get; set; } = run;

        public int NumClasses { get; } = numClasses;

        public QualityGate? Gate { get; } = gate;
    }

    /// <summary>
    /// Keeps the latest progress report (the training loop reports on its own thread, every step) and counts the steps in
    /// the metrics, from the step the trainer starts at.
    /// </summary>
    private sealed class LatestProgress(TrainerMetrics metrics, string model, long startStep) : IProgress<TrainingProgress>
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
}
