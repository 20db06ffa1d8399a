using System.CommandLine;
using ShortcutPipeline.Cli.Commands;

namespace ShortcutPipeline.Cli;

/// <summary>The `shortcut` command line.</summary>
public static class ShortcutCli
{
    /// <summary>The root command with every sub-command.</summary>
    public static RootCommand CreateRootCommand() => new(
        "shortcut: train, sample, evaluate and serve shortcut models (Frans et al. 2024, One Step Diffusion via Shortcut Models). " +
        "Start with `shortcut local`: the whole pipeline on this machine.")
    {
        LocalCommand.Create(),
        EnqueueCommand.Create(),
        StatusCommand.Create(),
        WaitCommand.Create(),
        DownloadCommand.Create(),
        TrainCommand.Create(),
        SampleCommand.Create(),
        EvalCommand.Create(),
        BenchCommand.Create(),
        BenchPipelineCommand.Create(),
    };
}
