using Azure.Storage.Blobs.Models;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>A <see cref="WorkerService"/> running in the test process over a test pipeline.</summary>
internal sealed class InProcessWorker : IAsyncDisposable
{
    private readonly WorkerService service;
    private readonly string cacheFolder;

    private InProcessWorker(WorkerService service, SamplingService sampling, WorkerMetrics metrics, WorkerOptions options, string cacheFolder)
    {
        this.service = service;
        Sampling = sampling;
        Metrics = metrics;
        Options = options;
        this.cacheFolder = cacheFolder;
    }

    public SamplingService Sampling { get; }

    public WorkerMetrics Metrics { get; }

    public WorkerOptions Options { get; }

    /// <summary>Options for tests: CPU, short waits, a fresh model cache.</summary>
    public static WorkerOptions TestOptions() => new()
    {
        Device = "cpu",
        MaxBatchWait = TimeSpan.FromMilliseconds(200),
        PollInterval = TimeSpan.FromMilliseconds(100),
        CancellationPollInterval = TimeSpan.FromMilliseconds(100),
        QueueDepthPollInterval = TimeSpan.FromMilliseconds(500),
        VisibilityTimeout = TimeSpan.FromSeconds(20),
        RetryDelay = TimeSpan.Zero,
        ModelCacheDirectory = Directory.CreateTempSubdirectory("worker-cache-").FullName,
    };

    public static async Task<InProcessWorker> StartAsync(TestPipeline pipeline, WorkerOptions? options = null, TimeProvider? time = null)
    {
        options ??= TestOptions();
        var sampling = new SamplingService(pipeline.Registry, options);
        var metrics = new WorkerMetrics();
        var service = new WorkerService(pipeline.Storage, pipeline.Progress, sampling, new ImageWriter(pipeline.Storage), metrics, options, time);
        await service.StartAsync(CancellationToken.None);
        return new InProcessWorker(service, sampling, metrics, options, options.ModelCacheDirectory);
    }

    /// <summary>Stops the service the way the host does on SIGTERM.</summary>
    public async Task StopAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await service.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        service.Dispose();
        Sampling.Dispose();
        Metrics.Dispose();
        Directory.Delete(cacheFolder, recursive: true);
    }
}

/// <summary>Reads back what the worker stored.</summary>
internal static class StoredImages
{
    public static async Task<IReadOnlyList<BlobItem>> ListAsync(TestPipeline pipeline, string jobId)
    {
        var blobs = new List<BlobItem>();
        await foreach (BlobItem blob in pipeline.Storage.ImagesContainer.GetBlobsAsync(BlobTraits.None, BlobStates.None, Core.ImageBlobNames.PrefixOf(jobId), CancellationToken.None))
        {
            blobs.Add(blob);
        }

        return blobs;
    }

    public static async Task<byte[]> ReadAsync(TestPipeline pipeline, string jobId, int index) =>
        (await pipeline.Storage.ImagesContainer.GetBlobClient(Core.ImageBlobNames.For(jobId, index)).DownloadContentAsync()).Value.Content.ToArray();
}
