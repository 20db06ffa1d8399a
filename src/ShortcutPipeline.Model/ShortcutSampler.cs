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
/// on the other requests in its batch. <see cref="Sample"/> runs a set of requests to the end; <see cref="SamplerRows"/>
/// holds rows between steps, for a caller that picks the rows of every forward pass itself (the worker's step scheduler).
/// </summary>
public sealed class ShortcutSampler(DiT model)
{
    public DiT Model { get; } = model;

    internal Device Device => Model.parameters().First().device;

    /// <summary>
    /// Samples the requests; returns float32 samples on the CPU in the model's space: pixels in [-1, 1] or latents.
    /// <paramref name="rowsToStop"/>, asked before each step, names rows to stop (a cancelled job, a passed
    /// deadline); those rows are marked not completed in the result.
    /// </summary>
    public SampleResult Sample(IReadOnlyList<SampleRequest> requests, Func<int, IReadOnlyCollection<int>>? rowsToStop = null,
        CancellationToken cancellationToken = default)
    {
        using var rows = new SamplerRows(this, Math.Max(1, requests.Count));
        var slots = rows.Start(requests);
        var completed = Enumerable.Repeat(true, requests.Count).ToArray();
        for (int step = 0; ; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (int row in rowsToStop?.Invoke(step) ?? [])
            {
                if (!rows.IsFinished(slots[row])) completed[row] = false;
            }
            var active = slots.Where((slot, row) => completed[row] && !rows.IsFinished(slot)).ToList();
            if (active.Count == 0) break;
            rows.Step(active);
        }
        using var samples = rows.Take(slots);
        return new SampleResult(samples.cpu(), completed);
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

/// <summary>
/// Rows of the sampler loop held between forward passes: each row's x (in a fixed slot of one float32 tensor on the
/// model's device), its request and how many of its steps have run. <see cref="Step"/> runs one Euler step over any
/// set of rows, whatever their budgets, t and guidance; a row is finished after as many steps as its budget, and
/// <see cref="Take"/> then hands its sample out. Not thread-safe.
/// </summary>
public sealed class SamplerRows : IDisposable
{
    private readonly ShortcutSampler sampler;
    private readonly Tensor x;   // (Capacity, C, H, W) float32
    private readonly SampleRequest?[] requests;
    private readonly int[] stepsDone;
    private readonly SortedSet<int> free;

    /// <summary>Room for <paramref name="capacity"/> rows of <paramref name="sampler"/>'s model.</summary>
    public SamplerRows(ShortcutSampler sampler, int capacity)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        this.sampler = sampler;
        var c = sampler.Model.Config;
        x = zeros([capacity, c.InChannels, c.InputSize, c.InputSize], float32, sampler.Device).DetachFromDisposeScope();
        requests = new SampleRequest?[capacity];
        stepsDone = new int[capacity];
        free = new SortedSet<int>(Enumerable.Range(0, capacity));
    }

    public int Capacity => requests.Length;

    /// <summary>Rows started and not yet taken or freed.</summary>
    public int Count => Capacity - free.Count;

    /// <summary>
    /// Starts a row per request at t = 0 with the noise of its seed, in the lowest free slots, and returns the slots.
    /// </summary>
    /// <exception cref="ArgumentException">A request the model cannot draw.</exception>
    /// <exception cref="InvalidOperationException">More requests than free slots.</exception>
    public IReadOnlyList<int> Start(IReadOnlyList<SampleRequest> newRequests)
    {
        ArgumentNullException.ThrowIfNull(newRequests);
        foreach (var request in newRequests) request.Validate(sampler.Model.Config);
        if (newRequests.Count > free.Count)
            throw new InvalidOperationException($"{newRequests.Count} rows do not fit in the {free.Count} free slots.");
        if (newRequests.Count == 0) return [];
        var slots = free.Take(newRequests.Count).ToArray();
        using var scope = NewDisposeScope();
        x.index_copy_(0, tensor(slots.Select(s => (long)s).ToArray(), device: x.device), sampler.InitialNoise(newRequests).to(x.device));
        for (int i = 0; i < slots.Length; i++)
        {
            free.Remove(slots[i]);
            requests[slots[i]] = newRequests[i];
            stepsDone[slots[i]] = 0;
        }
        return slots;
    }

    /// <summary>True when <paramref name="slot"/> holds a row (started, not yet taken or freed).</summary>
    public bool Holds(int slot) => slot >= 0 && slot < Capacity && requests[slot] is not null;

    public SampleRequest RequestAt(int slot) => requests[slot] ?? throw new ArgumentException($"Slot {slot} holds no row.", nameof(slot));

    /// <summary>How many steps of the row in <paramref name="slot"/> have run.</summary>
    public int StepsDone(int slot)
    {
        RequestAt(slot);
        return stepsDone[slot];
    }

    /// <summary>True when the row has run all the steps of its budget.</summary>
    public bool IsFinished(int slot) => stepsDone[slot] >= RequestAt(slot).Steps;

    /// <summary>
    /// One forward pass over the rows in <paramref name="slots"/> (unfinished, each once): x += v(x, t, d) d with each
    /// row's own t = steps done / steps, d = 1 / steps, level <see cref="DiTConfig.LevelForBudget"/> (log2(steps) for a
    /// shortcut model, the finest level for a flow-matching one), label and guidance scale.
    /// </summary>
    public void Step(IReadOnlyList<int> slots)
    {
        ArgumentNullException.ThrowIfNull(slots);
        if (slots.Count == 0) return;
        var rows = slots.Select(RequestAt).ToArray();
        if (slots.Where(IsFinished).Any()) throw new InvalidOperationException("A finished row cannot take another step.");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = x.device;
        var model = sampler.Model;
        var index = tensor(slots.Select(s => (long)s).ToArray(), device: device);
        var d = tensor(rows.Select(r => 1f / r.Steps).ToArray(), device: device);
        var t = tensor(slots.Select(s => (float)stepsDone[s]).ToArray(), device: device) * d;   // t = i / steps per row
        var level = tensor(rows.Select(r => (long)model.Config.LevelForBudget(r.Steps)).ToArray(), device: device);
        var labels = tensor(rows.Select(r => (long)(r.Label ?? model.Config.NullClass)).ToArray(), device: device);
        var scales = tensor(rows.Select(r => (float)r.CfgScale).ToArray(), device: device);
        var v = ShortcutSampler.Velocity(model, x.index_select(0, index), t, level, labels, scales).to(float32);
        x.index_add_(0, index, v * d.view(-1, 1, 1, 1), 1);
        foreach (int slot in slots) stepsDone[slot]++;
    }

    /// <summary>The samples of the rows in <paramref name="slots"/>, (n, C, H, W) float32 on the model's device; frees their slots.</summary>
    public Tensor Take(IReadOnlyList<int> slots)
    {
        ArgumentNullException.ThrowIfNull(slots);
        using var scope = NewDisposeScope();
        var samples = x.index_select(0, tensor(slots.Select(s => (long)s).ToArray(), device: x.device)).MoveToOuterDisposeScope();
        foreach (int slot in slots) Free(slot);
        return samples;
    }

    /// <summary>Drops the row in <paramref name="slot"/> (a stopped request): its slot is free again.</summary>
    public void Free(int slot)
    {
        RequestAt(slot);
        requests[slot] = null;
        free.Add(slot);
    }

    public void Dispose() => x.Dispose();
}

/// <summary>Samples (B, C, H, W) float32 on the CPU, and which rows ran all their steps.</summary>
public sealed class SampleResult(Tensor samples, IReadOnlyList<bool> completed) : IDisposable
{
    public Tensor Samples { get; } = samples;
    public IReadOnlyList<bool> Completed { get; } = completed;
    public void Dispose() => Samples.Dispose();
}
