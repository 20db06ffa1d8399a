namespace ShortcutPipeline.Core.Training;

/// <summary>What <see cref="TrainingLauncher.LaunchAsync(string?, TrainingTrigger, CancellationToken)"/> did.</summary>
public enum LaunchOutcome
{
    /// <summary>A new run: recorded as Queued and its request is on the training queue.</summary>
    Launched,

    /// <summary>The same request was launched before under this run id: nothing new.</summary>
    Duplicate,

    /// <summary>The request breaks the contract: recorded as a Failed run with every reason; nothing was enqueued.</summary>
    Rejected,

    /// <summary>The run id is taken by a run of another request: nothing was recorded or enqueued.</summary>
    Conflict,
}

/// <summary>The outcome of one launch.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Run">The run as recorded (for a rejection: the Failed record; for a conflict: the run that holds the id).</param>
public sealed record LaunchResult(LaunchOutcome Outcome, TrainingRun Run)
{
    /// <summary>The run id.</summary>
    public string RunId => Run.RunId;

    /// <summary>Why the request was rejected or conflicts (empty otherwise).</summary>
    public IReadOnlyList<string> Reasons { get; init; } = [];
}

/// <summary>
/// Launches training runs: checks a request, records the run in the runs table and puts the request on the
/// training queue, once per run id. A redelivered or repeated launch of the same request finds its record and
/// enqueues nothing new, except that it finishes an earlier launch that stopped between the record and the
/// message. Storage failures throw.
/// </summary>
public sealed class TrainingLauncher
{
    private readonly PipelineStorage storage;
    private readonly TrainingRunStore runs;
    private readonly TrainingDatasets datasets;
    private readonly TrainingRequestReader reader;
    private readonly ILogger logger;

    /// <summary>A launcher over <paramref name="runs"/> and the training queue of <paramref name="storage"/>.</summary>
    public TrainingLauncher(
        PipelineStorage storage, TrainingRunStore runs, TrainingDatasets datasets, TimeProvider? time = null,
        ILogger<TrainingLauncher>? logger = null)
    {
        this.storage = storage ?? throw new ArgumentNullException(nameof(storage));
        this.runs = runs ?? throw new ArgumentNullException(nameof(runs));
        this.datasets = datasets ?? throw new ArgumentNullException(nameof(datasets));
        reader = new TrainingRequestReader(time);
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Launches the request in <paramref name="message"/> (JSON, or base64 of it); a request without a run id gets a new one.</summary>
    public async Task<LaunchResult> LaunchAsync(string? message, TrainingTrigger trigger, CancellationToken cancellationToken = default)
    {
        message ??= "";
        TrainingRequestReadResult read = reader.Read(message);
        if (read.Request is { } request)
        {
            return await LaunchAsync(request, trigger, cancellationToken).ConfigureAwait(false);
        }

        (TrainingRun run, bool created) = await runs.RecordRejectedAsync(
            read.RunId, read.Model, message, read.ContentHash, read.Reasons, trigger, cancellationToken).ConfigureAwait(false);
        if (!created && !string.Equals(run.ContentHash, read.ContentHash, StringComparison.Ordinal))
        {
            // The id is another run's: record the rejection under one derived from the content.
            string derived = TrainingRequestReader.RejectedRunId(read.ContentHash);
            IReadOnlyList<string> reasons = [TakenRunIdReason(run), .. read.Reasons];
            (run, created) = await runs.RecordRejectedAsync(derived, read.Model, message, read.ContentHash, reasons, trigger, cancellationToken)
                .ConfigureAwait(false);
        }

        if (created)
        {
            logger.LogInformation("Rejected training request {RunId}: {Reasons}", run.RunId, string.Join(" | ", run.Reasons));
        }

        return new LaunchResult(LaunchOutcome.Rejected, run) { Reasons = run.Reasons };
    }

    /// <summary>Launches a request that is valid already (the scheduler's).</summary>
    public async Task<LaunchResult> LaunchAsync(TrainingRequest request, TrainingTrigger trigger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        string datasetFingerprint = await datasets.FingerprintAsync(request.Dataset, cancellationToken).ConfigureAwait(false);
        return await LaunchAsync(request, trigger, datasetFingerprint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Launches a valid request whose dataset fingerprint the caller computed already (the scheduler, which decided on it).</summary>
    internal async Task<LaunchResult> LaunchAsync(
        TrainingRequest request, TrainingTrigger trigger, string datasetFingerprint, CancellationToken cancellationToken)
    {
        (TrainingRun run, bool created) = await runs.CreateAsync(request, trigger, datasetFingerprint, cancellationToken).ConfigureAwait(false);
        if (!created && !string.Equals(run.ConfigurationFingerprint, request.ConfigurationFingerprint(), StringComparison.Ordinal))
        {
            return new LaunchResult(LaunchOutcome.Conflict, run) { Reasons = [TakenRunIdReason(run)] };
        }

        if (!created && (run.Enqueued || run.State != TrainingRunState.Queued))
        {
            return new LaunchResult(LaunchOutcome.Duplicate, run);
        }

        if (!created)
        {
            logger.LogWarning("Run {RunId} was recorded but not enqueued by an earlier launch; enqueueing it now.", run.RunId);
        }

        await storage.TrainingQueue.SendMessageAsync(
            request.ToJson(), visibilityTimeout: null, timeToLive: TimeSpan.FromSeconds(-1), cancellationToken).ConfigureAwait(false);
        run = await runs.MarkEnqueuedAsync(run.RunId, cancellationToken).ConfigureAwait(false) ?? run;
        logger.LogInformation(
            "Launched training run {RunId} ({Trigger}): model {Model}, preset {Preset}, {Steps} steps on {Dataset}.",
            run.RunId, trigger, request.Model, request.Preset, request.Steps, request.Dataset);
        return new LaunchResult(created ? LaunchOutcome.Launched : LaunchOutcome.Duplicate, run);
    }

    /// <summary>The reason given when a request uses the run id of <paramref name="run"/>, which trains something else.</summary>
    public static string TakenRunIdReason(TrainingRun run) => string.Create(CultureInfo.InvariantCulture,
        $"$.runId \"{run.RunId}\" is taken: another request was launched under it on {run.CreatedAt:u} (it is {run.State.ToString().ToLowerInvariant()}). Launch this request with a new run id, or without one.");
}
