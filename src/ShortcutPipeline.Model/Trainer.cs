using System.Diagnostics;
using ShortcutPipeline.Contracts;
using ShortcutPipeline.Model.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>One line of the progress bar.</summary>
public sealed record TrainingProgress(long Step, long TotalSteps, double Loss, double ImagesPerSecond);

/// <summary>
/// The training loop, one phase for every step size: AdamW on the shortcut (or flow-matching) loss, then the EMA.
/// Every random draw of step n comes from a generator seeded by (seed, n), and the data order of each epoch from
/// (seed, epoch), so a run resumed from a checkpoint continues exactly as if it had never stopped.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly DiT? compute;   // the bfloat16 working copy, when BFloat16
    private readonly ParameterPair[] computePairs = [];   // (master, working)
    private long[] epochOrder = [];
    private long epochOfOrder = -1;

    public DiTConfig Config { get; }
    /// <summary>How the run trains (every knob; saved in every checkpoint).</summary>
    public TrainingConfig Options { get; }
    /// <summary>The float32 weights being trained.</summary>
    public DiT Model { get; }
    public Ema Ema { get; }
    public AdamW Optimizer { get; }
    /// <summary>Steps taken so far.</summary>
    public long Step { get; internal set; }
    public Device Device { get; }

    public Trainer(DiTConfig config, TrainingConfig options, Device? device = null)
    {
        options = options.ToTrainingConfig();
        options.Validate();
        // A flow-matching model learns only the finest level: it is sampled at that level at every budget.
        Config = config with { StepSizeConditioned = options.Objective == TrainingObjective.Shortcut };
        Options = options;
        Device = device ?? CPU;
        Model = new DiT(Config, options.Seed);
        Model.to(Device);
        Ema = new Ema(Model, options.EmaDecay, options.UsesEmaWarmup);
        Optimizer = optim.AdamW(Model.parameters(), lr: options.LearningRate, weight_decay: options.WeightDecay);
        if (options.BFloat16)
        {
            (compute, computePairs) = Model.Mirror(Device, bfloat16);
        }
    }

    /// <summary>The network the forward and backward passes run on.</summary>
    private DiT Network => compute ?? Model;

    /// <summary>Takes one optimizer step on the batch of the current step; returns the loss.</summary>
    public double TrainStep(ImageDataset data)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(Seeds.Derive(Options.Seed, Step, stream: 1));
        var indices = BatchIndices(data.Count);
        var images = data.ToModelInput(indices, Device).to(Network.parameters().First().dtype);
        var labels = data.LabelsAt(indices, Device);
        SyncWorkingCopy();

        using var targets = Options.Objective == TrainingObjective.Shortcut
            ? ShortcutTargets.Build(images, labels, BootstrapModel(), Options, generator)
            : FlowMatchingTargets.Build(images, labels, Config, Options.LabelDropout, generator);
        Network.train();
        var prediction = Network.forward(targets.Xt, targets.T, targets.Level, targets.Labels);
        var loss = nn.functional.mse_loss(prediction.to(float32), targets.Velocity.to(float32));

        Optimizer.zero_grad();
        compute?.zero_grad();
        loss.backward();
        CopyGradientsToMaster();
        Optimizer.step();
        Ema.Update(Step);
        Step++;
        return loss.item<float>();
    }

    /// <summary>Trains until <paramref name="totalSteps"/>, reporting progress; <paramref name="afterStep"/> can checkpoint.</summary>
    public void Train(ImageDataset data, long totalSteps, IProgress<TrainingProgress>? progress = null,
        Action<Trainer, double>? afterStep = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        long startStep = Step;
        while (Step < totalSteps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double loss = TrainStep(data);
            double imagesPerSecond = (Step - startStep) * (double)Options.BatchSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            progress?.Report(new TrainingProgress(Step, totalSteps, loss, imagesPerSecond));
            afterStep?.Invoke(this, loss);
        }
    }

    // The teacher of the self-consistency targets.
    private DiT BootstrapModel() => Options.BootstrapSource == BootstrapSource.CurrentWeights ? Network : Ema.Model;

    /// <summary>The dataset rows of the current step: consecutive slices of a per-epoch permutation.</summary>
    public Tensor BatchIndices(int datasetCount)
    {
        var rows = new long[Options.BatchSize];
        for (int i = 0; i < rows.Length; i++)
        {
            long position = Step * Options.BatchSize + i;
            long epoch = position / datasetCount;
            if (epoch != epochOfOrder)
            {
                using var generator = new Generator(Seeds.Derive(Options.Seed, epoch, stream: 2));
                using var order = randperm(datasetCount, generator: generator);
                epochOrder = order.data<long>().ToArray();
                epochOfOrder = epoch;
            }
            rows[i] = epochOrder[position % datasetCount];
        }
        return tensor(rows);
    }

    private void SyncWorkingCopy()
    {
        if (compute is not null) DiT.CopyParameters(computePairs);
    }

    private void CopyGradientsToMaster()
    {
        if (compute is null) return;
        using var _ = no_grad();
        foreach (var (master, working) in computePairs)
        {
            if (working.grad is { } grad) master.grad = grad.to(float32);
        }
    }

    public void Dispose()
    {
        compute?.Dispose();
        Optimizer.Dispose();
        Ema.Dispose();
        Model.Dispose();
    }
}

/// <summary>Independent seeds derived from a run's seed (SplitMix64), one stream per purpose.</summary>
public static class Seeds
{
    public static ulong Derive(long seed, long index, int stream)
    {
        ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index * 0xBF58476D1CE4E5B9UL + (ulong)stream * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
