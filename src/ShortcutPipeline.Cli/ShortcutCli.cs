using System.CommandLine;
using Azure;
using Azure.Identity;
using ShortcutPipeline.Cli.Commands;

namespace ShortcutPipeline.Cli;

/// <summary>The `shortcut` command line: every command, for Program.cs and for tests that run it in-process.</summary>
public static class ShortcutCli
{
    /// <summary>What `shortcut` exits with.</summary>
    public static class ExitCodes
    {
        public const int Success = 0;
        /// <summary>A job failed, was rejected or is unknown; a command failed.</summary>
        public const int Failed = 1;
        /// <summary>Bad input: arguments, files or data, with one line saying what is wrong.</summary>
        public const int BadInput = 2;
        /// <summary>A wait ran out of time.</summary>
        public const int Timeout = 3;
        public const int Cancelled = 130;
    }

    /// <summary>The root command with every sub-command.</summary>
    public static RootCommand CreateRootCommand() => new(
        "shortcut: train, sample, evaluate and serve shortcut models (Frans et al. 2024, One Step Diffusion via Shortcut Models). " +
        "Start with `shortcut local`: the whole pipeline on this machine.")
    {
        LocalCommand.Create(),
        ServeCommand.Create(),
        ModelsCommand.Create(),
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
        BenchServingCommand.Create(),
        HostCommands.Worker(),
        HostCommands.Trainer(),
    };

    /// <summary>
    /// Runs a command line. Bad input (arguments, files, data) prints one clear line and exits with
    /// <see cref="ExitCodes.BadInput"/>; an unexpected failure prints the exception and exits with 1.
    /// </summary>
    public static async Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null,
        CancellationToken cancellationToken = default)
    {
        var parse = CreateRootCommand().Parse(args);
        var configuration = new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
            // Ctrl+C and SIGTERM cancel the command's token; it then has this long to finish (the worker stores what it
            // started). The worker's and trainer's hosts take the signals themselves, with their own shutdown timeouts.
            ProcessTerminationTimeout = HostCommands.HandlesSignals(parse.CommandResult.Command) ? null : TimeSpan.FromMinutes(2),
        };
        try
        {
            return await parse.InvokeAsync(configuration, cancellationToken);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or NotSupportedException)
        {
            configuration.Error.WriteLine($"shortcut: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (RequestFailedException e)
        {
            configuration.Error.WriteLine($"shortcut: {StorageError(e)}");
            return ExitCodes.Failed;
        }
        catch (AuthenticationFailedException e)
        {
            configuration.Error.WriteLine(
                $"shortcut: could not sign in to Azure Storage ({e.Message.Split('\n')[0].Trim()}). Sign in with `az login`, or give a connection string with --connection.");
            return ExitCodes.Failed;
        }
        catch (OperationCanceledException)
        {
            configuration.Error.WriteLine("shortcut: cancelled");
            return ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            configuration.Error.WriteLine($"shortcut: unexpected error: {e}");
            return ExitCodes.Failed;
        }
    }

    /// <summary>One line on what the storage service refused, and what to check.</summary>
    internal static string StorageError(RequestFailedException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        string what = error.ErrorCode switch
        {
            "ContainerNotFound" or "QueueNotFound" or "TableNotFound" or "ResourceNotFound" =>
                "the pipeline's storage is not there: a container, queue or table it needs does not exist. Check --connection and --storage-prefix (or the ShortcutStorage settings), and that the pipeline has been deployed or started (shortcut serve) on that account.",
            "AuthorizationPermissionMismatch" or "AuthorizationFailure" or "AuthenticationFailed" =>
                "the storage account refused access. In Azure, grant your account the storage data roles (the stacks' operatorPrincipalId parameter does); locally, check the connection string.",
            _ => "the storage request failed.",
        };
        string detail = error.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        return $"{what} (HTTP {error.Status}{(error.ErrorCode is null ? "" : " " + error.ErrorCode)}: {detail})";
    }
}
