using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>
/// An exponential moving average of a model's weights: ema = decay * ema + (1 - decay) * weights after each step.
/// With warm-up the decay at step n is min(decay, (1 + n) / (10 + n)), so a short run's EMA is not dominated by
/// the initial weights (with a plain 0.999, 60% of the EMA is still the initialisation after 500 steps).
/// </summary>
public sealed class Ema : IDisposable
{
    private readonly ParameterPair[] pairs;   // (source, shadow)

    public DiT Model { get; }
    public double Decay { get; }
    public bool Warmup { get; }

    public Ema(DiT source, double decay = 0.999, bool warmup = true)
    {
        if (decay is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(decay), "The EMA decay must be in [0, 1).");
        Decay = decay;
        Warmup = warmup;
        var first = source.parameters().First();
        (Model, pairs) = source.Mirror(first.device, first.dtype);
        foreach (var parameter in Model.parameters()) parameter.requires_grad = false;
        Model.eval();
        CopyFromSource();
    }

    public double DecayAt(long step) => Warmup ? Math.Min(Decay, (1.0 + step) / (10.0 + step)) : Decay;

    /// <summary>Moves the average toward the source's current weights, using the decay of <paramref name="step"/>.</summary>
    public void Update(long step)
    {
        double decay = DecayAt(step);
        using var _ = no_grad();
        foreach (var (source, shadow) in pairs) shadow.mul_(decay).add_(source, alpha: 1 - decay);
    }

    /// <summary>Sets the average to the source's current weights.</summary>
    public void CopyFromSource() => DiT.CopyParameters(pairs);

    public void Dispose() => Model.Dispose();
}
