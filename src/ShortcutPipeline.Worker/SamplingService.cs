using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;
using static TorchSharp.torch;

namespace ShortcutPipeline.Worker;

/// <summary>
/// Loads the model versions the sampler draws with. Checkpoints are downloaded from the registry into
/// <see cref="WorkerOptions.ModelCacheDirectory"/> (once per version) and loaded on the configured device in the
/// precision that device runs best (<see cref="WorkerOptions.BFloat16"/>); the <see cref="WorkerOptions.LoadedModels"/> most recently used versions stay loaded (and any
/// the sampler holds rows of). A newly promoted version is just another key: it is loaded between forward passes,
/// without a restart.
/// </summary>
public sealed class SamplingService : IDisposable
{
    private readonly ModelRegistry registry;
    private readonly WorkerOptions options;
    private readonly ILogger logger;
    private readonly SemaphoreSlim loading = new(1, 1);
    private readonly LinkedList<LoadedModel> loaded = new();   // most recently used first
    private readonly Lazy<Device> device;
    private IImageDecoder? vaeDecoder;

    /// <summary>A sampling service over <paramref name="registry"/>'s checkpoints.</summary>
    public SamplingService(ModelRegistry registry, WorkerOptions options, ILogger<SamplingService>? logger = null)
    {
        this.registry = registry ?? throw new ArgumentNullException(nameof(registry));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        device = new Lazy<Device>(() =>
        {
            if (options.SamplerThreads > 0)
            {
                // For the whole process, before its first kernel: libtorch gives each thread its count when that thread
                // first runs one, so every thread that samples from now on uses this many.
                set_num_threads(options.SamplerThreads);
                this.logger.LogInformation("The CPU sampler uses {Threads} threads of the {Cores} cores.", options.SamplerThreads, Environment.ProcessorCount);
            }

            return Devices.Parse(options.Device);
        });
    }

    /// <summary>The device models are loaded on.</summary>
    public Device Device => device.Value;

    /// <summary>The weight type models are loaded in.</summary>
    public ScalarType WeightType => Devices.SamplingType(Device, options.BFloat16);

    /// <summary>The loaded versions, most recently used first.</summary>
    public IReadOnlyList<(string Model, string Version)> LoadedVersions
    {
        get
        {
            lock (loaded)
            {
                return loaded.Select(m => (m.Model, m.Version)).ToList();
            }
        }
    }

    /// <summary>
    /// The loaded model of <paramref name="model"/> version <paramref name="version"/>, downloading and loading
    /// it first when needed (which may unload the least recently used one that nobody holds).
    /// </summary>
    /// <exception cref="InvalidOperationException">The version is not registered.</exception>
    /// <exception cref="InvalidDataException">The checkpoint is not a usable sampling checkpoint (the cached copy is deleted).</exception>
    public Task<LoadedModel> GetModelAsync(string model, string version, CancellationToken cancellationToken = default) =>
        GetAsync(model, version, hold: false, cancellationToken);

    /// <summary>
    /// <see cref="GetModelAsync"/>, and holds the model: it is not unloaded until <see cref="ReleaseModel"/> (the
    /// sampler holds the models it has rows in flight with). More models than <see cref="WorkerOptions.LoadedModels"/>
    /// stay loaded while all of them are held.
    /// </summary>
    public Task<LoadedModel> AcquireModelAsync(string model, string version, CancellationToken cancellationToken = default) =>
        GetAsync(model, version, hold: true, cancellationToken);

    /// <summary>Lets go of a model taken with <see cref="AcquireModelAsync"/>.</summary>
    public void ReleaseModel(LoadedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        lock (loaded)
        {
            model.Holders--;
        }
    }

    private async Task<LoadedModel> GetAsync(string model, string version, bool hold, CancellationToken cancellationToken)
    {
        await loading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (loaded)
            {
                LoadedModel? hit = loaded.FirstOrDefault(m => m.Model == model && m.Version == version);
                if (hit is not null)
                {
                    loaded.Remove(hit);
                    loaded.AddFirst(hit);
                    hit.Holders += hold ? 1 : 0;
                    return hit;
                }
            }

            string path = await DownloadAsync(model, version, cancellationToken).ConfigureAwait(false);
            LoadedModel fresh = await Task.Run(() => Load(model, version, path), cancellationToken).ConfigureAwait(false);
            lock (loaded)
            {
                fresh.Holders += hold ? 1 : 0;
                loaded.AddFirst(fresh);
                while (loaded.Count > options.LoadedModels && loaded.LastOrDefault(m => m.Holders == 0) is { } evicted)
                {
                    loaded.Remove(evicted);
                    logger.LogInformation("Unloading model {Model} {Version}.", evicted.Model, evicted.Version);
                    evicted.Dispose();
                }
            }

            return fresh;
        }
        finally
        {
            loading.Release();
        }
    }

    /// <summary>
    /// Why <paramref name="item"/> cannot be drawn with <paramref name="model"/> (a label or step budget the model
    /// does not have), or null when it can. Such an item can never succeed.
    /// </summary>
    public static string? CheckItem(WorkItem item, DiTConfig model)
    {
        ArgumentNullException.ThrowIfNull(item);
        ArgumentNullException.ThrowIfNull(model);
        if (!StepBudget.IsValid(item.Steps) || item.Steps > model.DenoiseTimesteps)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"steps {item.Steps} is not a power of two from 1 to {model.DenoiseTimesteps}, the budgets of model {item.Model} {item.ModelVersion}.");
        }

        ImageRequest? outside = item.Images.FirstOrDefault(i => i.Label is int label && (label < 0 || label >= model.NumClasses));
        if (outside is not null)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"image {outside.Index} has label {outside.Label}, but model {item.Model} {item.ModelVersion} has {model.NumClasses} classes (0 to {model.NumClasses - 1}).");
        }

        ImageRequest? negative = item.Images.FirstOrDefault(i => i.Seed < 0);
        return negative is null ? null : string.Create(CultureInfo.InvariantCulture, $"image {negative.Index} has a negative seed.");
    }

    /// <summary>Unloads every model.</summary>
    public void Dispose()
    {
        lock (loaded)
        {
            foreach (LoadedModel model in loaded)
            {
                model.Dispose();
            }

            loaded.Clear();
        }

        (vaeDecoder as IDisposable)?.Dispose();
        loading.Dispose();
    }

    private LoadedModel Load(string model, string version, string path)
    {
        DiT network;
        try
        {
            network = Checkpoint.LoadForSampling(path, Device, WeightType);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // A broken download must not stay in the cache: the next attempt downloads it again.
            File.Delete(path);
            throw new InvalidDataException($"The checkpoint of model {model} {version} cannot be loaded: {exception.Message}", exception);
        }

        try
        {
            IImageDecoder decoder = network.Config.Space == "latent"
                ? vaeDecoder ??= ImageDecoders.For(network.Config, options.VaePath, Device)
                : ImageDecoders.For(network.Config);
            logger.LogInformation(
                "Loaded model {Model} {Version} ({Name}, {Size}x{Size}x{Channels}, {Classes} classes) on {Device} as {Precision}.",
                model, version, network.Config.Name, network.Config.InputSize, network.Config.InputSize, network.Config.InChannels,
                network.Config.NumClasses, Device, Devices.SamplingPrecision(Device, options.BFloat16));
            return new LoadedModel(model, version, network, decoder, path);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private async Task<string> DownloadAsync(string model, string version, CancellationToken cancellationToken)
    {
        ModelManifest manifest = await registry.GetVersionAsync(model, version, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Model {model} version {version} is not registered.");
        string folder = Path.Combine(options.ModelCacheDirectory, model, version);
        string path = Path.Combine(folder, Path.GetFileName(manifest.Checkpoint));
        if (File.Exists(path))
        {
            return path;
        }

        Directory.CreateDirectory(folder);
        string partial = path + "." + Guid.NewGuid().ToString("N")[..8] + ".download";
        try
        {
            await using (FileStream file = File.Create(partial))
            {
                await registry.DownloadCheckpointAsync(manifest, file, cancellationToken).ConfigureAwait(false);
            }

            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }

        logger.LogInformation("Downloaded model {Model} {Version} ({Checkpoint}) to {Path}.", model, version, manifest.Checkpoint, path);
        return path;
    }
}

/// <summary>A model version loaded for sampling, with the decoder that turns its samples into images.</summary>
/// <param name="model">The model name.</param>
/// <param name="version">The version.</param>
/// <param name="network">The network (EMA weights); disposed with this.</param>
/// <param name="decoder">The decoder of its samples (shared between models; not disposed with the model).</param>
/// <param name="checkpointPath">The cached checkpoint file it was loaded from.</param>
public sealed class LoadedModel(string model, string version, DiT network, IImageDecoder decoder, string checkpointPath) : IDisposable
{
    /// <summary>The model name.</summary>
    public string Model { get; } = model;

    /// <summary>The version.</summary>
    public string Version { get; } = version;

    /// <summary>The network (EMA weights).</summary>
    public DiT Network { get; } = network;

    /// <summary>Its configuration (classes, size, space).</summary>
    public DiTConfig Config => Network.Config;

    /// <summary>The sampler over <see cref="Network"/>.</summary>
    public ShortcutSampler Sampler { get; } = new(network);

    /// <summary>The decoder of its samples (shared between models; not disposed with the model).</summary>
    public IImageDecoder Decoder { get; } = decoder;

    /// <summary>The cached checkpoint file it was loaded from.</summary>
    public string CheckpointPath { get; } = checkpointPath;

    /// <summary>How many users hold it loaded (see <see cref="SamplingService.AcquireModelAsync"/>); guarded by the service.</summary>
    internal int Holders { get; set; }

    /// <summary>Frees the network's tensors.</summary>
    public void Dispose() => Network.Dispose();
}
