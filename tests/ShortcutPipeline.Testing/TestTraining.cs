using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Training;

namespace ShortcutPipeline.Testing;

/// <summary>The Core training services over one isolated storage: what tests of the launcher, the scheduler, the functions and the trainer start from.</summary>
public sealed class TestTraining
{
    private TestTraining(PipelineStorage storage, TimeProvider time, TrainingScheduleOptions scheduleOptions)
    {
        Storage = storage;
        ScheduleOptions = scheduleOptions;
        Registry = new ModelRegistry(storage, time);
        Runs = new TrainingRunStore(storage, time);
        Datasets = new TrainingDatasets(storage);
        Launcher = new TrainingLauncher(storage, Runs, Datasets, time);
        Scheduler = new TrainingScheduler(Runs, Launcher, Datasets, scheduleOptions, time);
    }

    /// <summary>The isolated storage.</summary>
    public PipelineStorage Storage { get; }

    /// <summary>The scheduler's options (change them before calling the scheduler).</summary>
    public TrainingScheduleOptions ScheduleOptions { get; }

    /// <summary>The model registry.</summary>
    public ModelRegistry Registry { get; }

    /// <summary>The runs table.</summary>
    public TrainingRunStore Runs { get; }

    /// <summary>Dataset fingerprints and downloads.</summary>
    public TrainingDatasets Datasets { get; }

    /// <summary>The launcher.</summary>
    public TrainingLauncher Launcher { get; }

    /// <summary>The scheduler.</summary>
    public TrainingScheduler Scheduler { get; }

    /// <summary>Services over new storage names (created) in <paramref name="azurite"/>.</summary>
    public static async Task<TestTraining> CreateAsync(
        AzuriteFixture azurite, TimeProvider? time = null, TrainingScheduleOptions? scheduleOptions = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(azurite);
        PipelineStorage storage = await azurite.CreateStorageAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        return new TestTraining(storage, time ?? TimeProvider.System, scheduleOptions ?? new TrainingScheduleOptions());
    }

    /// <summary>Services over storage that exists already (the same names through a <see cref="StorageOutage"/>, for one).</summary>
    public static TestTraining Over(PipelineStorage storage, TimeProvider? time = null, TrainingScheduleOptions? scheduleOptions = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return new TestTraining(storage, time ?? TimeProvider.System, scheduleOptions ?? new TrainingScheduleOptions());
    }

    /// <summary>The texts of the messages on the training queue (peeked: they stay there).</summary>
    public async Task<IReadOnlyList<string>> PeekTrainingQueueAsync(CancellationToken cancellationToken = default) =>
        (await Storage.TrainingQueue.PeekMessagesAsync(maxMessages: 32, cancellationToken).ConfigureAwait(false))
            .Value.Select(message => message.Body.ToString()).ToList();
}
