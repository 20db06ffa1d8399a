using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

/// <summary>Small models and data for tests.</summary>
internal static class ModelFixtures
{
    public static DiTConfig TinyConfig(int inputSize = 8) => DiT.Tiny(inputSize) with { HiddenSize = 32, Depth = 2, NumHeads = 2 };

    /// <summary>A DiT whose zero-initialised layers are randomised too, so that its output depends on every input.</summary>
    public static DiT RandomDiT(DiTConfig? config = null, long seed = 7)
    {
        var model = new DiT(config ?? TinyConfig(), seed);
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.Contains("adaLN_modulation") || name.StartsWith("final_layer", StringComparison.Ordinal))
                parameter.copy_(randn(parameter.shape, generator: generator) * 0.05);
        }
        model.eval();
        return model;
    }

    public static Tensor RandomImages(int count, DiTConfig config, long seed = 3)
    {
        using var generator = new Generator((ulong)seed);
        return (rand([count, config.InChannels, config.InputSize, config.InputSize], generator: generator) * 2 - 1);
    }

    /// <summary>Same shape and exactly the same values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
