using System.Globalization;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>
/// The Core training services over a fresh isolated storage of the shared Azurite, plus an in-process trainer (runner
/// and consumer) with short timeouts, and helpers to build tiny requests and read what a run wrote.
/// </summary>
internal sealed class TrainerTestContext : IDisposable
{
    public const string Model = "fashion";

    private readonly TempDirectory folder;

    private TrainerTestContext(TestTraining training, TestTraining trainers, TempDirectory folder, ITestOutputHelper output)
    {
        this.folder = folder;
        TrainerHostOptions options = FastOptions(Path.Combine(folder.Path, "work"));
        Training = training;
        Options = options;
        Logs = new TestLoggerProvider(output.WriteLine);
        Runner = new TrainingRunner(trainers.Storage, trainers.Runs, trainers.Datasets, trainers.Registry, options, Logs.CreateLogger<TrainingRunner>());
        Consumer = new TrainingQueueConsumer(trainers.Storage, Runner, options, Logs.CreateLogger<TrainingQueueConsumer>());
    }

    public TestTraining Training { get; }

    public PipelineStorage Storage => Training.Storage;

    public TrainerHostOptions Options { get; }

    public TestLoggerProvider Logs { get; }

    public TrainingRunner Runner { get; }

    public TrainingQueueConsumer Consumer { get; }

    /// <summary>
    /// A context over fresh storage; the trainer (runner and consumer) reaches it through <paramref name="outage"/> when
    /// given, while the test's own services reach it directly.
    /// </summary>
    public static async Task<TrainerTestContext> CreateAsync(AzuriteFixture azurite, ITestOutputHelper output, StorageOutage? outage = null)
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);
        TestTraining trainers = outage is null ? training : TestTraining.Over(outage.Reach(training.Storage));
        return new TrainerTestContext(training, trainers, new TempDirectory("trainer-tests-"), output);
    }

    /// <summary>Options with timeouts short enough for tests, the work folder <paramref name="workDirectory"/> and the CPU.</summary>
    public static TrainerHostOptions FastOptions(string workDirectory) => new()
    {
        WorkDirectory = workDirectory,
        VisibilityTimeout = TimeSpan.FromSeconds(30),
        LeaseDuration = TimeSpan.FromSeconds(15),
        BusyRetryDelay = TimeSpan.FromSeconds(1),
        WaitForMessage = TimeSpan.FromSeconds(5),
        PollInterval = TimeSpan.FromMilliseconds(200),
        ProgressInterval = TimeSpan.FromSeconds(1),
        Device = "cpu",
    };

    /// <summary>
    /// A request that trains in seconds on a CPU: DiT-Tiny/2 cut down to hidden 32, depth 2, 2 heads, on 8x8 images of
    /// the first <paramref name="images"/> Fashion-MNIST images. <paramref name="extra"/> adds or replaces properties.
    /// </summary>
    public static string TinyRequest(string runId, long steps, int checkpointEvery, string extra = "", int images = 64, int batchSize = 8) =>
        string.Create(CultureInfo.InvariantCulture, $$"""
            { "runId": "{{runId}}", "model": "{{Model}}", "preset": "DiT-Tiny/2", "inputSize": 8, "hiddenSize": 32, "depth": 2, "numHeads": 2,
              "dataset": "fashion-mnist", "datasetLimit": {{images}}, "steps": {{steps}}, "batchSize": {{batchSize}},
              "checkpointEvery": {{checkpointEvery}}, "learningRate": 0.001{{extra}} }
            """);

    /// <summary>The names of the blobs in a run's folder.</summary>
    public async Task<IReadOnlyList<string>> RunBlobsAsync(string runId)
    {
        var names = new List<string>();
        await foreach (BlobItem blob in Storage.CheckpointsContainer.GetBlobsAsync(new GetBlobsOptions { Prefix = TrainingBlobNames.RunPrefix(Model, runId) }))
        {
            names.Add(blob.Name[TrainingBlobNames.RunPrefix(Model, runId).Length..]);
        }

        return names;
    }

    /// <summary>The (step, loss) rows of the run's loss.csv in Blob Storage.</summary>
    public async Task<IReadOnlyList<(long Step, double Loss)>> LossRowsAsync(string runId)
    {
        string csv = (await Storage.CheckpointsContainer.GetBlobClient(TrainingBlobNames.File(Model, runId, TrainingBlobNames.LossCsvFileName))
            .DownloadContentAsync()).Value.Content.ToString();
        string[] lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("step,loss", lines[0]);
        return lines.Skip(1).Select(line => line.Split(','))
            .Select(cells => (long.Parse(cells[0], CultureInfo.InvariantCulture), double.Parse(cells[1], CultureInfo.InvariantCulture))).ToList();
    }

    /// <summary>Where <see cref="DownloadAsync"/> puts files (beside the trainer's work folder, deleted with it).</summary>
    public string DownloadDirectory => Path.Combine(folder.Path, "downloads");

    /// <summary>Downloads a blob of the checkpoints container to a temporary file.</summary>
    public async Task<string> DownloadAsync(string blobName)
    {
        Directory.CreateDirectory(DownloadDirectory);
        string path = Path.Combine(DownloadDirectory, Guid.NewGuid().ToString("N") + Path.GetExtension(blobName));
        await Storage.CheckpointsContainer.GetBlobClient(blobName).DownloadToAsync(path);
        return path;
    }

    public Task<ModelManifestEntry?> LatestAsync() => Training.Registry.GetLatestAsync(Model);

    /// <summary>The number of messages on the training queue, visible or not.</summary>
    public async Task<int> QueuedMessagesAsync() => (await Storage.TrainingQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount;

    /// <summary>Deletes the work and download folders.</summary>
    public void Dispose() => folder.Dispose();
}
