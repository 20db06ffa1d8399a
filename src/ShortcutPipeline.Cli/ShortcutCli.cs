using System.CommandLine;
using ShortcutPipeline.Cli.Commands;

namespace ShortcutPipeline.Cli;

/// <summary>The `shortcut` command line: every command, for Program.cs and for tests that run it in-process.</summary>
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
        ExportCommand.Create(),
        BenchCommand.Create(),
        BenchPipelineCommand.Create(),
    };

    /// <summary>
    /// Runs a command line. Bad input (arguments, files, data) prints one clear line and exits with 2; other
    /// failures print the exception and exit with 1.
    /// </summary>
    public static async Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null,
        CancellationToken cancellationToken = default)
    {
        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output ?? Console.Out, Error = error ?? Console.Error };
        var parse = CreateRootCommand().Parse(args);
        try
        {
            return await parse.InvokeAsync(configuration, cancellationToken);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException)
        {
            configuration.Error.WriteLine($"shortcut: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            configuration.Error.WriteLine("shortcut: cancelled");
            return 130;
        }
    }
}
