using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;

namespace ShortcutPipeline.Worker;

/// <summary>A model version loaded for sampling, with the decoder that turns its samples into images.</summary>
public sealed class LoadedModel : IDisposable
{
    internal LoadedModel(string model, string version, DiT network, IImageDecoder decoder, string checkpointPath)
    {
        Model = model;
        Version = version;
        Network = network;
        Decoder = decoder;
        CheckpointPath = checkpointPath;
        Sampler = new ShortcutSampler(network);
    }

    /// <summary>The model name.</summary>
    public string Model { get; }

    /// <summary>The version.</summary>
    public string Version { get; }

    /// <summary>The network (EMA weights).</summary>
    public DiT Network { get; }

    /// <summary>Its configuration (classes, size, space).</summary>
    public DiTConfig Config => Network.Config;

    /// <summary>The sampler over <see cref="Network"/>.</summary>
    public ShortcutSampler Sampler { get; }

    /// <summary>The decoder of its samples (shared between models; not disposed with the model).</summary>
    public IImageDecoder Decoder { get; }

    /// <summary>The cached checkpoint file it was loaded from.</summary>
    public string CheckpointPath { get; }

    /// <summary>How many users hold it loaded (see <see cref="SamplingService.AcquireModelAsync"/>); guarded by the service.</summary>
    internal int Holders { get; set; }

    /// <summary>Frees the network's tensors.</summary>
    public void Dispose() => Network.Dispose();
}
