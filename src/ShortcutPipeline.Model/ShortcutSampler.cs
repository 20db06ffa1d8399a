using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>One image to draw: a class (null: unconditional), a step budget, a guidance scale and a seed.</summary>
public sealed record SampleRequest(int? Label, int Steps, double CfgScale, long Seed)
{
    public void Validate(DiTConfig config)
    {
        if (!StepBudget.IsValid(Steps) || Steps > config.DenoiseTimesteps)
            throw new ArgumentException($"Steps {Steps} must be a power of two from 1 to {config.DenoiseTimesteps}.");
        if (Label is { } label && (label < 0 || label >= config.NumClasses))
            throw new ArgumentException($"Label {label} is outside 0..{config.NumClasses - 1}.");
        if (Seed < 0) throw new ArgumentException("Seed must not be negative.");
        if (double.IsNaN(CfgScale) || CfgScale < 0) throw new ArgumentException("CfgScale must be a non-negative number.");
    }
}

/// <summary>
/// The shortcut sampler (Algorithm 2 of the paper): Euler steps x += s(x, t, d) d from noise at t = 0 to data at
/// t = 1, with d = 1/steps. Every row carries its own t, level and guidance scale, so requests with different
/// step budgets share forward passes, and each request's noise comes from its own seed: an image does not depend
/// on the other requests in its batch.
/// </summary>
public sealed class ShortcutSampler(DiT model)
{
    public DiT Model { get; } = model;

    private Device Device => Model.parameters().First().device;

    /// <summary>
    /// Samples the requests; returns float32 samples on the CPU in the model's space: pixels in [-1, 1] or latents.
    /// <paramref name="rowsToStop"/>, asked before each step, names rows to stop (a cancelled job, a passed
    /// deadline); those rows are marked not completed in the result.
    /// </summary>
    public SampleResult Sample(IReadOnlyList<SampleRequest> requests, Func<int, IReadOnlyCollection<int>>? rowsToStop = null,
        CancellationToken cancellationToken = default)
    {
        foreach (var request in requests) request.Validate(Model.Config);
        int rows = requests.Count;
        var steps = requests.Select(r => r.Steps).ToArray();
        var completed = Enumerable.Repeat(true, rows).ToArray();
        int maxSteps = steps.Max();
        using var noGrad = no_grad();

        var x = InitialNoise(requests).to(Device);
        var labels = tensor(requests.Select(r => (long)(r.Label ?? Model.Config.NullClass)).ToArray(), device: Device);
        var scales = tensor(requests.Select(r => (float)r.CfgScale).ToArray(), device: Device);
        var stepSize = tensor(steps.Select(s => 1f / s).ToArray(), device: Device);
        var level = tensor(steps.Select(s => (long)StepBudget.LevelOf(s)).ToArray(), device: Device);

        for (int i = 0; i < maxSteps; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (int row in rowsToStop?.Invoke(i) ?? [])
            {
                if (steps[row] > i) { steps[row] = i; completed[row] = false; }
            }
            var active = Enumerable.Range(0, rows).Where(r => i < steps[r]).Select(r => (long)r).ToArray();
            if (active.Length == 0) break;

            using var scope = NewDisposeScope();
            bool all = active.Length == rows;
            var index = all ? null : tensor(active, device: Device);
            Tensor Pick(Tensor t) => all ? t : t.index_select(0, index!);
            var d = Pick(stepSize);
            var t = i * d;  // t = i / steps per row
            var v = Velocity(Model, Pick(x), t, Pick(level), Pick(labels), Pick(scales)).to(float32);
            var update = v * d.view(-1, 1, 1, 1);
            if (all) x.add_(update);
            else x.index_add_(0, index!, update, 1);
        }

        var samples = x.cpu();
        foreach (var tensor in new[] { x, labels, scales, stepSize, level }) if (!ReferenceEquals(tensor, samples)) tensor.Dispose();
        return new SampleResult(samples, completed);
    }

    /// <summary>x_0 ~ N(0, I) for each request from a generator seeded by its own seed (on the CPU, so any device agrees).</summary>
    public Tensor InitialNoise(IReadOnlyList<SampleRequest> requests)
    {
        var c = Model.Config;
        var rows = requests.Select(r =>
        {
            using var generator = new Generator((ulong)r.Seed);
            return randn([c.InChannels, c.InputSize, c.InputSize], generator: generator);
        }).ToList();
        var noise = stack(rows);
        foreach (var row in rows) row.Dispose();
        return noise;
    }

    /// <summary>
    /// The model's velocity with classifier-free guidance per row: v = v_uncond + s (v_cond - v_uncond) for rows
    /// whose scale s is not 1 and whose label is not null; other rows get the plain conditional velocity, and only
    /// the guided rows pay for an unconditional pass.
    /// </summary>
    public static Tensor Velocity(DiT model, Tensor x, Tensor t, Tensor level, Tensor labels, Tensor? cfgScale)
    {
        if (cfgScale is null) return model.forward(x, t, level, labels);
        using var scope = NewDisposeScope();
        var guided = cfgScale.ne(1f).logical_and(labels.ne(model.Config.NullClass)).nonzero().view(-1);
        if (guided.numel() == 0) return model.forward(x, t, level, labels).MoveToOuterDisposeScope();

        long rows = x.shape[0];
        var nulls = full([guided.shape[0]], model.Config.NullClass, int64, labels.device);
        var output = model.forward(
            cat([x, x.index_select(0, guided)]), cat([t, t.index_select(0, guided)]),
            cat([level, level.index_select(0, guided)]), cat([labels, nulls]));
        var conditional = output[..(int)rows];
        var unconditional = output[(int)rows..];
        var scale = cfgScale.index_select(0, guided).view(-1, 1, 1, 1).to(output.dtype);
        var mixed = unconditional + scale * (conditional.index_select(0, guided) - unconditional);
        return conditional.index_copy(0, guided, mixed).MoveToOuterDisposeScope();
    }
}

/// <summary>Samples (B, C, H, W) float32 on the CPU, and which rows ran all their steps.</summary>
public sealed class SampleResult(Tensor samples, IReadOnlyList<bool> completed) : IDisposable
{
    public Tensor Samples { get; } = samples;
    public IReadOnlyList<bool> Completed { get; } = completed;
    public void Dispose() => Samples.Dispose();
}
