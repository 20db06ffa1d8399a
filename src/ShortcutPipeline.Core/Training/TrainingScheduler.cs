namespace ShortcutPipeline.Core.Training;

/// <summary>What <see cref="TrainingScheduler"/> decided, and why.</summary>
/// <param name="Launch">True when a run is (to be) launched.</param>
/// <param name="Reason">One sentence that says why (or why not).</param>
/// <param name="Launched">The launch, when <see cref="TrainingScheduler.RunAsync"/> made one.</param>
public sealed record ScheduleDecision(bool Launch, string Reason, LaunchResult? Launched = null);

/// <summary>
/// Decides whether the configured training request (<see cref="TrainingScheduleOptions.Request"/>) is launched now.
/// A run is launched when the model has no successful run yet, when the configuration or the dataset changed since
/// its last successful run (<see cref="TrainingRequest.ConfigurationFingerprint"/>, <see cref="TrainingDatasets.FingerprintAsync"/>),
/// or when that run finished longer than <see cref="TrainingScheduleOptions.Interval"/> ago. Never while a run of the
/// model is queued or running (unless it went stale), and a configuration that failed on this dataset is not
/// retried before the interval has passed.
/// </summary>
public sealed class TrainingScheduler
{
    private readonly TrainingRunStore runs;
    private readonly TrainingLauncher launcher;
    private readonly TrainingDatasets datasets;
    private readonly TrainingScheduleOptions options;
    private readonly TrainingRequestReader reader;
    private readonly TimeProvider time;
    private readonly ILogger logger;

    /// <summary>A scheduler of <paramref name="options"/>' request.</summary>
    public TrainingScheduler(
        TrainingRunStore runs, TrainingLauncher launcher, TrainingDatasets datasets, TrainingScheduleOptions options,
        TimeProvider? time = null, ILogger<TrainingScheduler>? logger = null)
    {
        this.runs = runs ?? throw new ArgumentNullException(nameof(runs));
        this.launcher = launcher ?? throw new ArgumentNullException(nameof(launcher));
        this.datasets = datasets ?? throw new ArgumentNullException(nameof(datasets));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.time = time ?? TimeProvider.System;
        reader = new TrainingRequestReader(this.time);
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Decides on the configured request and launches it (under a new run id) when a run is due.</summary>
    /// <exception cref="InvalidOperationException">The configured request is not a valid training request, or has a run id.</exception>
    public async Task<ScheduleDecision> RunAsync(CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(options.Request))
        {
            var none = new ScheduleDecision(false, $"No training request is configured ({TrainingScheduleOptions.SectionName}:{nameof(TrainingScheduleOptions.Request)} is empty).");
            logger.LogInformation("{Reason}", none.Reason);
            return none;
        }

        TrainingRequestReadResult read = reader.Read(options.Request);
        if (read.Request is not { } request)
        {
            throw new InvalidOperationException(
                $"{TrainingScheduleOptions.SectionName}:{nameof(TrainingScheduleOptions.Request)} is not a valid training request: {string.Join(" ", read.Reasons)}");
        }

        if (read.HasOwnRunId)
        {
            throw new InvalidOperationException(
                $"{TrainingScheduleOptions.SectionName}:{nameof(TrainingScheduleOptions.Request)} must not have a runId: every scheduled run gets a new one.");
        }

        (ScheduleDecision decision, string? datasetFingerprint) = await DecideAndFingerprintAsync(request, cancellationToken).ConfigureAwait(false);
        if (decision.Launch)
        {
            LaunchResult launched = await launcher.LaunchAsync(
                request, TrainingTrigger.Schedule, datasetFingerprint!, cancellationToken).ConfigureAwait(false);
            decision = decision with { Launched = launched };
        }

        logger.LogInformation("Training schedule for model {Model}: {Decision}. {Reason}",
            request.Model, decision.Launch ? "launch " + decision.Launched!.RunId : "no launch", decision.Reason);
        return decision;
    }

    /// <summary>Whether a run of <paramref name="request"/> is due now (see the class summary), without launching it.</summary>
    public async Task<ScheduleDecision> DecideAsync(TrainingRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return (await DecideAndFingerprintAsync(request, cancellationToken).ConfigureAwait(false)).Decision;
    }

    /// <summary>
    /// The decision, with the dataset fingerprint it was made on (null only when an active run decided it before the
    /// dataset was read; never null when the decision is to launch), so that a launch does not read the dataset again.
    /// </summary>
    private async Task<(ScheduleDecision Decision, string? DatasetFingerprint)> DecideAndFingerprintAsync(
        TrainingRequest request, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyList<TrainingRun> history = await runs.ListAsync(request.Model, int.MaxValue, cancellationToken).ConfigureAwait(false);
        if (history.FirstOrDefault(run => !run.State.IsTerminal() && now - run.UpdatedAt < options.StaleAfter) is { } active)
        {
            return (new ScheduleDecision(false, Say(
                $"Run {active.RunId} of model {request.Model} is {Lower(active.State)} (last changed {active.UpdatedAt:u}); no new run starts while it is.")), null);
        }

        string configuration = request.ConfigurationFingerprint();
        string dataset = await datasets.FingerprintAsync(request.Dataset, cancellationToken).ConfigureAwait(false);
        TrainingRun? lastFinished = history.Where(run => run.State.IsTerminal()).MaxBy(run => run.FinishedAt ?? run.CreatedAt);
        if (lastFinished is { State: TrainingRunState.Failed } failed && failed.ConfigurationFingerprint == configuration
            && failed.DatasetFingerprint == dataset && now - (failed.FinishedAt ?? failed.CreatedAt) < options.Interval)
        {
            return (new ScheduleDecision(false, Say(
                $"Run {failed.RunId} with this configuration and dataset failed at {failed.FinishedAt ?? failed.CreatedAt:u}; it is not tried again before {(failed.FinishedAt ?? failed.CreatedAt) + options.Interval:u}.")), dataset);
        }

        TrainingRun? lastSucceeded = history.Where(run => run.State == TrainingRunState.Succeeded).MaxBy(run => run.FinishedAt);
        if (lastSucceeded is null)
        {
            return (new ScheduleDecision(true, $"Model {request.Model} has no successful training run yet."), dataset);
        }

        DateTimeOffset finished = lastSucceeded.FinishedAt ?? lastSucceeded.CreatedAt;
        if (lastSucceeded.ConfigurationFingerprint != configuration)
        {
            return (new ScheduleDecision(true, $"The training configuration changed since run {lastSucceeded.RunId}."), dataset);
        }

        if (lastSucceeded.DatasetFingerprint != dataset)
        {
            return (new ScheduleDecision(true, $"The dataset {request.Dataset} changed since run {lastSucceeded.RunId}."), dataset);
        }

        ScheduleDecision byAge = now - finished >= options.Interval
            ? new ScheduleDecision(true, Say($"Run {lastSucceeded.RunId} finished at {finished:u}, {options.Interval} or more ago: a run is due."))
            : new ScheduleDecision(false, Say(
                $"Model {request.Model} is up to date: run {lastSucceeded.RunId} (finished {finished:u}) trained this configuration on this dataset; the next run is due at {finished + options.Interval:u}."));
        return (byAge, dataset);
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Lower(TrainingRunState state) => state.ToString().ToLowerInvariant();
}
