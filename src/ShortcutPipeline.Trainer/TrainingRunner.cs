using System.Diagnostics;
using Azure.Storage.Queues.Models;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Core.Training;

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
/// Trains one training request from the queue, in three parts: <see cref="RunClaimer"/> reads it (a bad one fails its
/// run), keeps the message invisible while working and takes the run's blob lease (held elsewhere: leave the message
/// alone); <see cref="TrainingAttempt"/> trains the run, resuming from its newest checkpoint blob if there is one; and
/// <see cref="CheckpointPublisher"/> uploads and records each checkpoint and promotes as the request's policy says. Then
/// the message is deleted. A request that cannot be trained fails its run and is deleted; an unexpected error (the lease
/// lost, a storage failure) records the error and rethrows, leaving the message to be delivered again: the next delivery
/// resumes from the last checkpoint. Each request is a span (<see cref="SpanNames.TrainingRun"/>) with the run id and
/// model, and is counted, with its steps, checkpoints and promotions, in <see cref="TrainerMetrics"/>.
/// </summary>
public sealed class TrainingRunner
{
    private readonly TrainingRunStore runs;
    private readonly ILogger logger;
    private readonly TrainerMetrics metrics;
    private readonly RunClaimer claimer;
    private readonly TrainingAttempt training;
    private readonly string trainerName = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>A runner over the given services.</summary>
    public TrainingRunner(
        PipelineStorage storage, TrainingRunStore runs, TrainingDatasets datasets, ModelRegistry registry, TrainerHostOptions options,
        ILogger<TrainingRunner> logger, TimeProvider? time = null, TrainerMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.runs = runs ?? throw new ArgumentNullException(nameof(runs));
        ArgumentNullException.ThrowIfNull(datasets);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        this.logger = logger ?? throw new ArgumentNullException(nameof(logger));
        this.metrics = metrics ?? new TrainerMetrics();
        options.Validate();
        claimer = new RunClaimer(storage, runs, datasets, options, new TrainingRequestReader(time), time ?? TimeProvider.System, logger);
        var publisher = new CheckpointPublisher(storage, runs, registry, options, this.metrics, logger);
        training = new TrainingAttempt(storage, runs, datasets, options, publisher, this.metrics, trainerName, logger);
    }

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
        await using RunClaim claim = await claimer.ClaimAsync(message, span, cancellationToken).ConfigureAwait(false);
        if (claim.Outcome is { } outcome)
        {
            return outcome;
        }

        TrainingRequest request = claim.Request!;
        RunLease lease = claim.Lease!;
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.Lost);
        try
        {
            await training.TrainAsync(request, claim.Run!, stopping.Token).ConfigureAwait(false);
        }
        catch (TrainingRequestException exception)
        {
            logger.LogWarning("Run {RunId} cannot be trained: {Reasons}", request.RunId, string.Join(" ", exception.Reasons));
            await runs.MarkFailedAsync(request.RunId, exception.Reasons, cancellationToken).ConfigureAwait(false);
            await claim.Message.DeleteAsync(cancellationToken).ConfigureAwait(false);
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

        await claim.Message.DeleteAsync(cancellationToken).ConfigureAwait(false);
        return TrainingMessageOutcome.Succeeded;
    }
}
