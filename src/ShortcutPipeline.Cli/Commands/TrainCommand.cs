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
        var preset = new Option<string>("--preset") { Description = $"Model preset: {string.Join(", ", DiT.PresetNames)}.", DefaultValueFactory = _ => "DiT-Small/4" };
        var inputSize = new Option<int?>("--input-size") { Description = "Image size the model trains at (default: the preset's; Fashion-MNIST is resized to it)." };
        var channels = new Option<int?>("--channels") { Description = "Image channels: 1 (grayscale) or 3 (RGB). Default: the preset's." };
        var steps = new Option<long>("--steps") { Description = "Total training steps (a resumed run continues to this total).", DefaultValueFactory = _ => 5000 };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 64 };
        var learningRate = new Option<double>("--lr") { Description = "AdamW learning rate.", DefaultValueFactory = _ => 1e-4 };
        var weightDecay = new Option<double>("--weight-decay") { DefaultValueFactory = _ => 0.1 };
        var emaDecay = new Option<double>("--ema-decay") { DefaultValueFactory = _ => 0.999 };
        var objective = new Option<string>("--objective") { Description = "shortcut, or flow-matching (the baseline).", DefaultValueFactory = _ => "shortcut" };
        var source = new Option<string>("--bootstrap-source") { Description = "Weights that compute the self-consistency targets: current, ema, ema-warmup.", DefaultValueFactory = _ => "current" };
        var fraction = new Option<double>("--bootstrap-fraction") { Description = "Fraction of each batch with self-consistency targets.", DefaultValueFactory = _ => 0.25 };
        var bootstrapCfg = new Option<double?>("--bootstrap-cfg") { Description = "Guidance scale inside the self-consistency targets (default: none)." };
        var labelDropout = new Option<double>("--label-dropout") { DefaultValueFactory = _ => 0.1 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var device = CommonOptions.Device();
        var patchSize = new Option<int?>("--patch-size") { Description = "Patch size (default: the preset's)." };
        var hiddenSize = new Option<int?>("--hidden-size") { Description = "Hidden size (default: the preset's)." };
        var depth = new Option<int?>("--depth") { Description = "Transformer blocks (default: the preset's)." };
        var numHeads = new Option<int?>("--num-heads") { Description = "Attention heads (default: the preset's)." };
        var targetClip = new Option<double>("--target-clip") { Description = "Clip of the self-consistency targets and their intermediate x.", DefaultValueFactory = _ => 4.0 };
        var emaWarmup = new Option<bool?>("--ema-warmup") { Description = "Warm the EMA decay up (default: on, except with --bootstrap-source ema)." };
        var bf16 = new Option<bool>("--bf16") { Description = "bfloat16 forward and backward over float32 master weights (CUDA)." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 1000 };
        var gridBudgets = new Option<string>("--grid-budgets") { Description = "Step budgets of the sample grid beside each checkpoint.", DefaultValueFactory = _ => "1,4,128" };
        var output = new Option<string>("--out") { Description = "Run folder: checkpoints, sampling exports, grids, loss.csv, loss.png. A folder with checkpoints is resumed.", Required = true };
        var command = new Command("train", "Train a shortcut model (one network, one phase, every step size).")
        {
            dataset, preset, inputSize, channels, patchSize, hiddenSize, depth, numHeads, steps, batchSize, learningRate, weightDecay,
            emaDecay, emaWarmup, objective, source, fraction, bootstrapCfg, labelDropout, targetClip, seed, device, bf16, checkpointEvery,
            gridBudgets, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var dev = Devices.Parse(parse.GetValue(device)!);
            string outDir = parse.GetValue(output)!;
            var loop = new TrainingLoopOptions
            {
                OutputDirectory = outDir,
                TotalSteps = parse.GetValue(steps),
                CheckpointEvery = parse.GetValue(checkpointEvery),
                GridBudgets = CommonOptions.ParseInts(parse.GetValue(gridBudgets)!),
                ExportType = parse.GetValue(bf16) ? ScalarType.BFloat16 : ScalarType.Float32,
            };

            // Every flag lands in the one TrainingConfig record (the same one a training request is, and checkpoints keep).
            var training = new TrainingConfig
            {
                Preset = parse.GetValue(preset)!,
                InputSize = parse.GetValue(inputSize),
                Channels = parse.GetValue(channels),
                PatchSize = parse.GetValue(patchSize),
                HiddenSize = parse.GetValue(hiddenSize),
                Depth = parse.GetValue(depth),
                NumHeads = parse.GetValue(numHeads),
                Objective = ParseObjective(parse.GetValue(objective)!),
                BootstrapFraction = parse.GetValue(fraction),
                BootstrapSource = ParseSource(parse.GetValue(source)!),
                BootstrapCfgScale = parse.GetValue(bootstrapCfg),
                LabelDropout = parse.GetValue(labelDropout),
                TargetClip = parse.GetValue(targetClip),
                BatchSize = parse.GetValue(batchSize),
                LearningRate = parse.GetValue(learningRate),
                WeightDecay = parse.GetValue(weightDecay),
                EmaDecay = parse.GetValue(emaDecay),
                EmaWarmup = parse.GetValue(emaWarmup),
                Seed = parse.GetValue(seed),
                BFloat16 = parse.GetValue(bf16),
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

    internal static TrainingObjective ParseObjective(string value) => value switch
    {
        "shortcut" => TrainingObjective.Shortcut,
        "flow-matching" or "flowMatching" or "flow" => TrainingObjective.FlowMatching,
        _ => throw new ArgumentException($"--objective {value}: expected shortcut or flow-matching."),
    };

    internal static BootstrapSource ParseSource(string value) => value switch
    {
        "current" or "currentWeights" => BootstrapSource.CurrentWeights,
        "ema" => BootstrapSource.Ema,
        "ema-warmup" or "emaWithWarmup" => BootstrapSource.EmaWithWarmup,
        _ => throw new ArgumentException($"--bootstrap-source {value}: expected current, ema or ema-warmup."),
    };
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool, out of order).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
