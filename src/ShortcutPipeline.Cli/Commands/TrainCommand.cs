using ShortcutPipeline.Contracts;
using System.CommandLine;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;
using static TorchSharp.torch;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>`shortcut train`: one-phase training of a shortcut model (or the flow-matching baseline) into a folder.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "fashion-mnist, fashion-mnist:DIR, or a folder (IDX files, or one sub-folder of images per class).", DefaultValueFactory = _ => DatasetSource.FashionMnistName };
        var steps = new Option<long>("--steps") { Description = "Total training steps (a resumed run continues to this total).", DefaultValueFactory = _ => 5000 };
        var device = CommonOptions.Device();
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 1000 };
        var gridBudgets = new Option<string>("--grid-budgets") { Description = "Step budgets of the sample grid beside each checkpoint.", DefaultValueFactory = _ => "1,4,128" };
        var output = new Option<string>("--out") { Description = "Run folder: checkpoints, sampling exports, grids, loss.csv, loss.png. A folder with checkpoints is resumed.", Required = true };
        var command = new Command("train", "Train a shortcut model (one network, one phase, every step size).") { dataset };
        foreach (TrainingFlag flag in TrainingFlags)
        {
            command.Options.Add(flag.Option);
        }

        foreach (Option option in new Option[] { steps, device, checkpointEvery, gridBudgets, output })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var dev = Devices.Parse(parse.GetValue(device)!);
            string outDir = parse.GetValue(output)!;
            TrainingConfig training = ReadTrainingConfig(parse);
            var loop = new TrainingLoopOptions
            {
                OutputDirectory = outDir,
                TotalSteps = parse.GetValue(steps),
                CheckpointEvery = parse.GetValue(checkpointEvery),
                GridBudgets = CommonOptions.ParseInts(parse.GetValue(gridBudgets)!),
                ExportType = training.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32,
            };
            training.Validate();

            // A folder with checkpoints is resumed with its own config; otherwise the dataset names the classes.
            string? latest = TrainingLoop.LatestCheckpoint(outDir);
            var config = latest is not null ? Checkpoint.ReadInfo(latest).Config : Config(training);
            using var data = await DatasetSource.OpenAsync(parse.GetValue(dataset)!, config.InputSize, config.InChannels,
                cancellationToken: cancellationToken);
            using var trainer = latest is not null
                ? Resume(latest, dev)
                : new Model.Trainer(config with { NumClasses = data.NumClasses, ClassNames = data.ClassNames }, training, dev);
            Console.Error.WriteLine($"training {trainer.Config.Name} ({trainer.Model.ParameterCount() / 1e6:F2}M parameters) on {data.Count} images, " +
                                    $"{trainer.Options.Objective}, batch {trainer.Options.BatchSize}, {dev.type}, from step {trainer.Step} to {loop.TotalSteps}");

            using var bar = new ConsoleProgress("train", loop.TotalSteps, start: trainer.Step);
            IProgress<TrainingProgress> progress = bar.TrainingReporter();
            await TrainingLoop.RunAsync(trainer, data, loop, progress, (files, _) =>
            {
                Console.Error.WriteLine();
                Console.Error.WriteLine($"checkpoint step {files.Step}: {files.Checkpoint}, {files.SamplingModel}, {files.SampleGrid}");
                return Task.CompletedTask;
            }, cancellationToken);
            return 0;
        });
        return command;
    }

    // The names the flags take for the enum knobs (before TrainingFlags: its defaults are shown by name).
    private static readonly FlagNames<TrainingObjective> Objectives = new("--objective",
        ("shortcut", TrainingObjective.Shortcut), ("flow-matching", TrainingObjective.FlowMatching),
        ("flowMatching", TrainingObjective.FlowMatching), ("flow", TrainingObjective.FlowMatching));

    private static readonly FlagNames<BootstrapSource> Sources = new("--bootstrap-source",
        ("current", BootstrapSource.CurrentWeights), ("ema", BootstrapSource.Ema), ("ema-warmup", BootstrapSource.EmaWithWarmup),
        ("currentWeights", BootstrapSource.CurrentWeights), ("emaWithWarmup", BootstrapSource.EmaWithWarmup));

    /// <summary>
    /// The flags of <see cref="TrainingConfig"/>, a flag a knob: its name, what it says, and where its value goes. The
    /// defaults are the record's own, so the command line, a training request and a checkpoint's metadata cannot drift.
    /// </summary>
    internal static IReadOnlyList<TrainingFlag> TrainingFlags { get; } =
    [
        TrainingFlag.Of("--preset", $"Model preset: {string.Join(", ", DiT.PresetNames)}.", c => c.Preset, (c, v) => c with { Preset = v }),
        TrainingFlag.Of("--input-size", "Image size the model trains at (default: the preset's; Fashion-MNIST is resized to it).", c => c.InputSize, (c, v) => c with { InputSize = v }),
        TrainingFlag.Of("--channels", "Image channels: 1 (grayscale) or 3 (RGB). Default: the preset's.", c => c.Channels, (c, v) => c with { Channels = v }),
        TrainingFlag.Of("--patch-size", "Patch size (default: the preset's).", c => c.PatchSize, (c, v) => c with { PatchSize = v }),
        TrainingFlag.Of("--hidden-size", "Hidden size (default: the preset's).", c => c.HiddenSize, (c, v) => c with { HiddenSize = v }),
        TrainingFlag.Of("--depth", "Transformer blocks (default: the preset's).", c => c.Depth, (c, v) => c with { Depth = v }),
        TrainingFlag.Of("--num-heads", "Attention heads (default: the preset's).", c => c.NumHeads, (c, v) => c with { NumHeads = v }),
        TrainingFlag.Of("--objective", "shortcut, or flow-matching (the baseline).", c => Objectives.NameOf(c.Objective), (c, v) => c with { Objective = Objectives.Parse(v) }),
        TrainingFlag.Of("--bootstrap-fraction", "Fraction of each batch with self-consistency targets.", c => c.BootstrapFraction, (c, v) => c with { BootstrapFraction = v }),
        TrainingFlag.Of("--bootstrap-source", "Weights that compute the self-consistency targets: current, ema, ema-warmup.", c => Sources.NameOf(c.BootstrapSource), (c, v) => c with { BootstrapSource = Sources.Parse(v) }),
        TrainingFlag.Of("--bootstrap-cfg", "Guidance scale inside the self-consistency targets (default: none).", c => c.BootstrapCfgScale, (c, v) => c with { BootstrapCfgScale = v }),
        TrainingFlag.Of("--label-dropout", "Fraction of labels dropped to the null class (classifier-free guidance).", c => c.LabelDropout, (c, v) => c with { LabelDropout = v }),
        TrainingFlag.Of("--target-clip", "Clip of the self-consistency targets and their intermediate x.", c => c.TargetClip, (c, v) => c with { TargetClip = v }),
        TrainingFlag.Of("--batch-size", "Images per training step.", c => c.BatchSize, (c, v) => c with { BatchSize = v }),
        TrainingFlag.Of("--lr", "AdamW learning rate.", c => c.LearningRate, (c, v) => c with { LearningRate = v }),
        TrainingFlag.Of("--weight-decay", "AdamW weight decay.", c => c.WeightDecay, (c, v) => c with { WeightDecay = v }),
        TrainingFlag.Of("--ema-decay", "Decay of the weights' exponential moving average.", c => c.EmaDecay, (c, v) => c with { EmaDecay = v }),
        TrainingFlag.Of("--ema-warmup", "Warm the EMA decay up (default: on, except with --bootstrap-source ema).", c => c.EmaWarmup, (c, v) => c with { EmaWarmup = v }),
        TrainingFlag.Of("--seed", "Seed of the weights, the batches and the noise.", c => c.Seed, (c, v) => c with { Seed = v }),
        TrainingFlag.Of("--bf16", "bfloat16 forward and backward over float32 master weights (CUDA); the sampling exports in bfloat16.", c => c.BFloat16, (c, v) => c with { BFloat16 = v }),
    ];

    /// <summary>The <see cref="TrainingConfig"/> the flags of <paramref name="parse"/> make.</summary>
    internal static TrainingConfig ReadTrainingConfig(ParseResult parse) =>
        TrainingFlags.Aggregate(new TrainingConfig(), (config, flag) => flag.Apply(config, parse));

    private static Model.Trainer Resume(string checkpoint, Device device)
    {
        Console.Error.WriteLine($"resuming from {checkpoint}");
        return Checkpoint.Resume(checkpoint, device);
    }

    // The preset with the config's overrides; 4 channels mean a latent-space model.
    internal static DiTConfig Config(TrainingConfig training)
    {
        var config = DiT.Preset(training.Preset);
        int channels = training.Channels ?? config.InChannels;
        return config with
        {
            InputSize = training.InputSize ?? config.InputSize,
            InChannels = channels,
            PatchSize = training.PatchSize ?? config.PatchSize,
            HiddenSize = training.HiddenSize ?? config.HiddenSize,
            Depth = training.Depth ?? config.Depth,
            NumHeads = training.NumHeads ?? config.NumHeads,
            Space = channels == 4 ? "latent" : "pixel",
        };
    }
}

/// <summary>
/// The command-line names of an enum's values: a value's first name is the one shown (and said in errors), the others
/// are accepted too.
/// </summary>
internal sealed class FlagNames<T>(string flag, params (string Name, T Value)[] names) where T : struct, Enum
{
    /// <summary>The name <paramref name="value"/> is shown by.</summary>
    public string NameOf(T value) => names.First(n => EqualityComparer<T>.Default.Equals(n.Value, value)).Name;

    /// <summary>The value of <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No value has that name; the message lists the shown names.</exception>
    public T Parse(string name)
    {
        foreach ((string known, T value) in names)
        {
            if (known == name)
            {
                return value;
            }
        }

        string[] shown = [.. names.Select(n => n.Value).Distinct().Select(NameOf)];
        throw new ArgumentException($"{flag} {name}: expected {string.Join(", ", shown[..^1])} or {shown[^1]}.");
    }
}

/// <summary>One flag of <c>shortcut train</c> for one <see cref="TrainingConfig"/> knob: the option, and how its value changes the record.</summary>
internal sealed record TrainingFlag(Option Option, Func<TrainingConfig, ParseResult, TrainingConfig> Apply)
{
    private static readonly TrainingConfig Defaults = new();

    /// <summary>A flag whose default is the knob's value in a new <see cref="TrainingConfig"/>.</summary>
    public static TrainingFlag Of<T>(string name, string description, Func<TrainingConfig, T> read, Func<TrainingConfig, T, TrainingConfig> write)
    {
        T fallback = read(Defaults);
        var option = new Option<T>(name) { Description = description, DefaultValueFactory = _ => fallback };
        return new TrainingFlag(option, (config, parse) => write(config, parse.GetValue(option)!));
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
