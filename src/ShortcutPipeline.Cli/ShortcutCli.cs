using System.CommandLine;
using ShortcutPipeline.Cli.Commands;

namespace ShortcutPipeline.Cli;

/// <summary>The `shortcut` command line: every command, for Program.cs and for tests that run it in-process.</summary>
public static class ShortcutCli
{
    public static RootCommand Create() => new("shortcut: train, sample, evaluate and serve shortcut models (Frans et al. 2024, One Step Diffusion via Shortcut Models).")
    {
        TrainCommand.Create(),
        SampleCommand.Create(),
        EvalCommand.Create(),
        BenchCommand.Create(),
    };

    /// <summary>
    /// Runs a command line. Bad input (arguments, files, data) prints one clear line and exits with 2; other
    /// failures print the exception and exit with 1.
    /// </summary>
    public static async Task<int> InvokeAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var parse = Create().Parse(args);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException)
        {
            Console.Error.WriteLine($"shortcut: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("shortcut: cancelled");
            return 130;
        }
    }
}
