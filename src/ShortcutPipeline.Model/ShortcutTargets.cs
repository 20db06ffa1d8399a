using ShortcutPipeline.Contracts;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

// The training targets of a shortcut model (Frans et al. 2024, section 3 and Algorithm 1; the official
// kvfrans/shortcut-models targets_shortcut.py). Notation of the paper: x_0 is noise, x_1 is data, t runs from 0
// (noise) to 1 (data), d = 1/2^k is the step size and k its level. One batch mixes two kinds of rows:
//   - flow-matching rows at the finest level (d = 1/128): the velocity x_1 - (1 - 1e-5) x_0 of the straight path;
//   - self-consistency rows at coarser levels: one step of size d must match two steps of size d/2 taken by the
//     model itself, so the target is the mean of the two half-step velocities.

/// <summary>One batch of network inputs with their regression targets. Rows [0, BootstrapRows) are self-consistency rows.</summary>
public sealed class TrainingTargets(Tensor xt, Tensor t, Tensor level, Tensor labels, Tensor velocity, int bootstrapRows) : IDisposable
{
    public Tensor Xt { get; } = xt;
    public Tensor T { get; } = t;
    /// <summary>Step-size level k per row (int64): d = 1/2^k.</summary>
    public Tensor Level { get; } = level;
    public Tensor Labels { get; } = labels;
    public Tensor Velocity { get; } = velocity;
    public int BootstrapRows { get; } = bootstrapRows;

    private Tensor[] All => [Xt, T, Level, Labels, Velocity];

    /// <summary>Moves every tensor to the dispose scope outside the one they were built in; returns this.</summary>
    internal TrainingTargets MoveToOuterDisposeScope()
    {
        foreach (var tensor in All) tensor.MoveToOuterDisposeScope();
        return this;
    }

    public void Dispose()
    {
        foreach (var tensor in All) tensor.Dispose();
    }
}

/// <summary>The flow-matching path and targets (the paper's equation 1, with sigma_min = 1e-5).</summary>
public static class FlowMatchingTargets
{
    public const double SigmaMin = 1e-5;

    /// <summary>x_t = (1 - (1 - 1e-5) t) x_0 + t x_1, with t broadcast per row.</summary>
    public static Tensor Interpolate(Tensor noise, Tensor data, Tensor t)
    {
        using var tt = t.view(-1, 1, 1, 1);
        return (1 - (1 - SigmaMin) * tt) * noise + tt * data;
    }

    /// <summary>v = x_1 - (1 - 1e-5) x_0: the velocity of the straight path.</summary>
    public static Tensor Velocity(Tensor noise, Tensor data) => data - (1 - SigmaMin) * noise;

    /// <summary>t uniformly on the grid {0, 1/128, ..., 127/128}, one per row.</summary>
    public static Tensor SampleT(int rows, int denoiseTimesteps, Generator generator) =>
        randint(0, denoiseTimesteps, [rows], dtype: float32, generator: generator) / denoiseTimesteps;

    /// <summary>Replaces each label with the null class with probability <paramref name="dropout"/>.</summary>
    public static Tensor DropLabels(Tensor labels, double dropout, int nullClass, Generator generator)
    {
        using var drop = rand([labels.shape[0]], generator: generator) < dropout;
        return where(drop, full_like(labels, nullClass), labels);
    }

    /// <summary>The baseline objective: every row a flow-matching row at the finest level.</summary>
    public static TrainingTargets Build(Tensor images, Tensor labels, DiTConfig config, double labelDropout, Generator generator)
    {
        using var scope = NewDisposeScope();
        int rows = (int)images.shape[0];
        var noise = randn(images.shape, generator: generator).to(images.device);
        var t = SampleT(rows, config.DenoiseTimesteps, generator).to(images.device);
        var xt = Interpolate(noise, images, t);
        var v = Velocity(noise, images);
        var level = full([rows], config.FinestLevel, int64, images.device);
        var y = DropLabels(labels.cpu(), labelDropout, config.NullClass, generator).to(images.device);
        return new TrainingTargets(xt, t, level, y, v, 0).MoveToOuterDisposeScope();
    }
}

/// <summary>The shortcut objective: flow-matching rows plus self-consistency rows (Algorithm 1 of the paper).</summary>
public static class ShortcutTargets
{
    /// <summary>
    /// Levels of the self-consistency rows, spread evenly over finestLevel-1 down to 0 (6, 5, ..., 0 for 128 steps).
    /// </summary>
    public static long[] BootstrapLevels(int rows, int finestLevel)
    {
        var levels = new long[rows];
        for (int i = 0; i < rows; i++) levels[i] = finestLevel - 1 - (long)i * finestLevel / rows;
        return levels;
    }

    /// <summary>How many rows of a batch get self-consistency targets.</summary>
    public static int BootstrapRowCount(int batchSize, double fraction) => (int)Math.Floor(batchSize * fraction);

    /// <summary>
    /// Builds the targets for one batch. <paramref name="bootstrapModel"/> computes the half-steps (no gradient).
    /// Labels are dropped to the null class before the targets are built, in every row, so that the unconditional
    /// model is trained at every level (guidance at few steps needs it).
    /// </summary>
    public static TrainingTargets Build(Tensor images, Tensor labels, DiT bootstrapModel, TrainingConfig options, Generator generator)
    {
        using var scope = NewDisposeScope();
        var config = bootstrapModel.Config;
        var device = images.device;
        int rows = (int)images.shape[0];
        int bootstrapRows = BootstrapRowCount(rows, options.BootstrapFraction);

        // Shared draws: noise for every row, label dropout for every row.
        var noise = randn(images.shape, generator: generator).to(device);
        var y = FlowMatchingTargets.DropLabels(labels.cpu(), options.LabelDropout, config.NullClass, generator).to(device);

        // 1) Self-consistency rows: level k, t on the grid of multiples of d = 1/2^k.
        var level = tensor(BootstrapLevels(bootstrapRows, config.FinestLevel), int64);
        var sections = pow(2, level).to(float32);
        var t = floor(rand([bootstrapRows], generator: generator) * sections) / sections;
        var d = 1.0f / sections;
        (level, t, d) = (level.to(device), t.to(device), d.to(device));
        var xtB = FlowMatchingTargets.Interpolate(noise[..bootstrapRows], images[..bootstrapRows], t);
        var target = SelfConsistencyTarget(bootstrapModel, xtB, t, d, level, y[..bootstrapRows], options);

        // 2) Flow-matching rows at the finest level d = 1/128.
        int flowRows = rows - bootstrapRows;
        var tF = FlowMatchingTargets.SampleT(flowRows, config.DenoiseTimesteps, generator).to(device);
        var xtF = FlowMatchingTargets.Interpolate(noise[bootstrapRows..], images[bootstrapRows..], tF);
        var vF = FlowMatchingTargets.Velocity(noise[bootstrapRows..], images[bootstrapRows..]);
        var levelF = full([flowRows], config.FinestLevel, int64, device);

        return new TrainingTargets(
            cat([xtB, xtF]), cat([t, tF]), cat([level, levelF]), y, cat([target.to(vF.dtype), vF]), bootstrapRows).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// s_target = (s(x_t, t, 2d) + s(x'_{t+d}, t + d, 2d)) / 2 with x'_{t+d} = x_t + d s(x_t, t, 2d), written here
    /// for a step d whose half-steps have size d/2 and level k+1; x' and the target are clipped.
    /// </summary>
    public static Tensor SelfConsistencyTarget(DiT model, Tensor xt, Tensor t, Tensor d, Tensor level, Tensor labels, TrainingConfig options)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var half = (d / 2).view(-1, 1, 1, 1);
        var halfLevel = level + 1;
        var guidance = GuidanceScales(level, labels, model.Config, options.BootstrapCfgScale);

        var v1 = ShortcutSampler.Velocity(model, xt, t, halfLevel, labels, guidance).to(xt.dtype);
        var x2 = (xt + half * v1).clamp(-options.TargetClip, options.TargetClip);
        var v2 = ShortcutSampler.Velocity(model, x2, t + d / 2, halfLevel, labels, guidance).to(xt.dtype);
        return ((v1 + v2) / 2).clamp(-options.TargetClip, options.TargetClip).MoveToOuterDisposeScope();
    }

    // Guidance inside the targets only for rows of the finest bootstrap level (whose half-steps are flow-matching
    // steps), with a real label; coarser levels inherit it through their own targets. As the official code.
    private static Tensor? GuidanceScales(Tensor level, Tensor labels, DiTConfig config, double? scale)
    {
        if (scale is not { } s) return null;
        var guided = level.eq(config.FinestLevel - 1).logical_and(labels.ne(config.NullClass));
        return where(guided, full_like(level, s, float32), ones_like(level, float32));
    }
}
