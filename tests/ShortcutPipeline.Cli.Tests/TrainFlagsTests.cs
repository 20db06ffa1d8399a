using System.CommandLine;
using System.Reflection;
using ShortcutPipeline.Cli.Commands;
using ShortcutPipeline.Contracts;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>`shortcut train` has a flag for every <see cref="TrainingConfig"/> knob, with the record's own default.</summary>
public sealed class TrainFlagsTests
{
    [Fact]
    public void WithoutFlagsTheConfigIsTheRecordsDefault()
    {
        ParseResult parse = TrainCommand.Create().Parse(["--out", "run"]);

        Assert.Empty(parse.Errors);
        Assert.Equal(new TrainingConfig(), TrainCommand.ReadTrainingConfig(parse));
    }

    [Fact]
    public void EveryKnobIsSetByItsFlag()
    {
        ParseResult parse = TrainCommand.Create().Parse([
            "--out", "run", "--preset", "DiT-Tiny/2", "--input-size", "16", "--channels", "3", "--patch-size", "2", "--hidden-size", "96",
            "--depth", "3", "--num-heads", "4", "--objective", "flow-matching", "--bootstrap-fraction", "0.125", "--bootstrap-source", "ema-warmup",
            "--bootstrap-cfg", "1.5", "--label-dropout", "0.2", "--target-clip", "3", "--batch-size", "32", "--lr", "0.001",
            "--weight-decay", "0.05", "--ema-decay", "0.99", "--ema-warmup", "false", "--seed", "7", "--bf16",
        ]);

        Assert.Empty(parse.Errors);
        TrainingConfig read = TrainCommand.ReadTrainingConfig(parse);
        Assert.Equal(new TrainingConfig
        {
            Preset = "DiT-Tiny/2", InputSize = 16, Channels = 3, PatchSize = 2, HiddenSize = 96, Depth = 3, NumHeads = 4,
            Objective = TrainingObjective.FlowMatching, BootstrapFraction = 0.125, BootstrapSource = BootstrapSource.EmaWithWarmup,
            BootstrapCfgScale = 1.5, LabelDropout = 0.2, TargetClip = 3, BatchSize = 32, LearningRate = 0.001, WeightDecay = 0.05,
            EmaDecay = 0.99, EmaWarmup = false, Seed = 7, BFloat16 = true,
        }, read);

        // Each knob moved off its default: a knob the command line cannot set would have kept it.
        var defaults = new TrainingConfig();
        foreach (PropertyInfo knob in typeof(TrainingConfig).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            Assert.True(!Equals(knob.GetValue(defaults), knob.GetValue(read)), $"no flag sets {knob.Name}");
        }

        Assert.Equal(typeof(TrainingConfig).GetProperties(BindingFlags.Public | BindingFlags.Instance).Count(p => p.CanWrite), TrainCommand.TrainingFlags.Count);
    }
}
