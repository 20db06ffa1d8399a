using System.CommandLine;
using ShortcutPipeline.Cli.Commands;

var root = new RootCommand("shortcut: train, sample, evaluate and serve shortcut models (Frans et al. 2024, One Step Diffusion via Shortcut Models).")
{
    TrainCommand.Create(),
    SampleCommand.Create(),
    EvalCommand.Create(),
    BenchCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
