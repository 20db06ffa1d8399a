using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Azure.Storage.Blobs.Models;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>A <see cref="WorkerService"/> running in the test process over a test pipeline, its model cache in a fresh temporary folder.</summary>
internal sealed class InProcessWorker : IAsyncDisposable
{
    private readonly WorkerService service;
    private readonly TempDirectory modelCache;

    private InProcessWorker(WorkerService service, SamplingService sampling, WorkerMetrics metrics, TempDirectory modelCache)
    {
        this.service = service;
        Sampling = sampling;
        Metrics = metrics;
        this.modelCache = modelCache;
    }

    public SamplingService Sampling { get; }

    public WorkerMetrics Metrics { get; }

    /// <summary>The worker's model cache (deleted on dispose).</summary>
    public string ModelCacheDirectory => modelCache.Path;

    /// <summary>Options for tests: CPU, short waits, the model cache in <paramref name="modelCacheDirectory"/>.</summary>
    public static WorkerOptions TestOptions(string modelCacheDirectory) => new()
    {
        Device = "cpu",
        PollInterval = TimeSpan.FromMilliseconds(100),
        CancellationPollInterval = TimeSpan.FromMilliseconds(100),
        QueueDepthPollInterval = TimeSpan.FromMilliseconds(500),
        VisibilityTimeout = TimeSpan.FromSeconds(20),
        RetryDelay = TimeSpan.Zero,
        ModelCacheDirectory = modelCacheDirectory,
    };

    /// <summary>Starts a worker with <see cref="TestOptions"/> over a fresh model cache, changed by <paramref name="configure"/>.</summary>
    /// <param name="meters">Where the worker's meter comes from (a <see cref="PassGate"/>, to act between two passes).</param>
    public static async Task<InProcessWorker> StartAsync(
        TestPipeline pipeline, Action<WorkerOptions>? configure = null, TimeProvider? time = null, ILogger<WorkerService>? logger = null,
        IMeterFactory? meters = null)
    {
        var modelCache = new TempDirectory("worker-cache-");
        WorkerOptions options = TestOptions(modelCache.Path);
        configure?.Invoke(options);
        var sampling = new SamplingService(pipeline.Registry, options);
        var metrics = new WorkerMetrics(meters);
        var service = new WorkerService(pipeline.Storage, pipeline.Progress, sampling, new ImageWriter(pipeline.Storage), metrics, options, time, logger);
        await service.StartAsync(CancellationToken.None);
        return new InProcessWorker(service, sampling, metrics, modelCache);
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
        modelCache.Dispose();
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

/// <summary>
/// Holds a worker's sampler once, right after the first forward pass of <c>rows</c> rows, until <see cref="Release"/>:
/// a test acts between two passes whatever the speed of the machine. Give it to <see cref="InProcessWorker.StartAsync"/>
/// as the worker's meter factory; it listens to the pass-rows instrument of that worker's meter only.
/// </summary>
internal sealed class PassGate : IMeterFactory
{
    private readonly int rows;
    private readonly MeterListener listener = new();
    private readonly TaskCompletionSource held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ManualResetEventSlim released = new();
    private readonly List<Meter> meters = [];

    public PassGate(int rows)
    {
        this.rows = rows;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, this) && instrument.Name == "shortcut.worker.pass_rows")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
        {
            if (value == this.rows && held.TrySetResult())
            {
                released.Wait(Wait.Long);   // on the sampler's thread: the next pass waits
            }
        });
        listener.Start();
    }

    /// <summary>Waits until the sampler is held after its first pass of the given rows.</summary>
    public Task WaitUntilHeldAsync() => held.Task.WaitAsync(Wait.Long);

    /// <summary>Lets the sampler go on.</summary>
    public void Release() => released.Set();

    public Meter Create(MeterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var meter = new Meter(new MeterOptions(options.Name) { Version = options.Version, Tags = options.Tags, Scope = this });
        lock (meters)
        {
            meters.Add(meter);
        }

        return meter;
    }

    public void Dispose()
    {
        Release();
        listener.Dispose();
        lock (meters)
        {
            meters.ForEach(m => m.Dispose());
        }

        released.Dispose();
    }
}
