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
        Randomize(model, seed);
        return model;
    }

    /// <summary>Randomises <paramref name="model"/>'s zero-initialised layers (adaLN and the final layer), so that its output depends on every input.</summary>
    public static void Randomize(DiT model, long seed = 7)
    {
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.Contains("adaLN_modulation") || name.StartsWith("final_layer", StringComparison.Ordinal))
                parameter.copy_(randn(parameter.shape, generator: generator) * 0.05);
        }
        model.eval();
    }

    /// <summary>
    /// The sampler's Euler steps written out by hand, with every step fed <paramref name="level"/>:
    /// x += v(x, i / steps, level, label) / steps from the request's noise.
    /// </summary>
    public static Tensor EulerAtLevel(DiT model, SampleRequest request, int level)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = new ShortcutSampler(model).InitialNoise([request]);
        var label = full(1, (long)(request.Label ?? model.Config.NullClass));
        for (int i = 0; i < request.Steps; i++)
            x = x + model.forward(x, tensor(new[] { (float)i / request.Steps }), full(1, (long)level), label) / request.Steps;
        return x.MoveToOuterDisposeScope();
    }

    public static Tensor RandomImages(int count, DiTConfig config, long seed = 3)
    {
        using var generator = new Generator((ulong)seed);
        return (rand([count, config.InChannels, config.InputSize, config.InputSize], generator: generator) * 2 - 1);
    }

    /// <summary>Same shape and exactly the same values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
