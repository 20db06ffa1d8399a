using System.CommandLine;
using ShortcutPipeline.Trainer;
using ShortcutPipeline.Worker;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut worker` and `shortcut trainer`: the two apps of the GPU image, each a generic host configured from the
/// environment (and from --Name=value arguments, such as --ShortcutPipeline:Worker:Device=cuda). They handle SIGTERM and
/// Ctrl+C themselves: the worker finishes and stores the rows it started, the trainer leaves its run to resume.
/// </summary>
public static class HostCommands
{
    /// <summary>The commands whose hosts take the process's signals (the command line does not cut them short).</summary>
    public static bool HandlesSignals(Command command) => command.Name is WorkerName or TrainerName;

    private const string WorkerName = "worker";
    private const string TrainerName = "trainer";

    public static Command Worker()
    {
        var command = new Command(WorkerName, "Run the worker: sample the work queue's items into PNG blobs until stopped (the GPU image's worker app).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await WorkerHost.RunAsync([.. parse.UnmatchedTokens], cancellationToken);
            return ShortcutCli.ExitCodes.Success;
        });
        return command;
    }

    public static Command Trainer()
    {
        var once = new Option<bool>("--once") { Description = "Take one training request from the training queue, train it, exit (the default; the trainer job runs this)." };
        var loop = new Option<bool>("--loop") { Description = "Take training requests until stopped (Ctrl+C), for local use." };
        var command = new Command(TrainerName, "Run the trainer: train the requests of the training queue, checkpoint, promote (the GPU image's trainer job).")
        {
            once, loop,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.Validators.Add(result =>
        {
            if (result.GetValue(once) && result.GetValue(loop))
            {
                result.AddError("Give --once or --loop, not both.");
            }
        });
        command.SetAction((parse, _) => TrainerHost.RunAsync([.. parse.UnmatchedTokens], parse.GetValue(loop)));
        return command;
    }
}
