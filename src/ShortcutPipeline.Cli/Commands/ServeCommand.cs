using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut serve`: the pipeline as a long-running local service. It starts Azurite on its standard ports (10000 to
/// 10002) with its data kept in a folder across restarts, or uses running storage (<c>--connection</c>); registers the
/// embedded Fashion-MNIST model as "fashion" when that model has no version yet; and runs the jobs-queue intake and
/// the worker (and with <c>--trainer</c> the trainer's loop) until Ctrl+C or SIGTERM, so that any Storage client can
/// put jobs on the queue and read the PNGs, statuses and poison queues.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var connection = new Option<string?>("--connection")
        {
            Description = "Serve on running storage with this connection string instead of starting Azurite.",
        };
        var data = new Option<string>("--data")
        {
            Description = "Where the started Azurite keeps its data across restarts.",
            DefaultValueFactory = _ => Path.Combine(ToolsDirectory.Path, "serve-data"),
        };
        var port = new Option<int>("--port")
        {
            Description = "The started Azurite's blob port; queue and table take the next two.",
            DefaultValueFactory = _ => AzuriteEmulator.StandardBlobPort,
        };
        var trainer = new Option<bool>("--trainer") { Description = "Also take training requests from the training queue (the trainer's loop)." };
        var device = CommonOptions.Device();
        var rows = new Option<int>("--max-rows-per-pass") { Description = "The worker's row limit per forward pass.", DefaultValueFactory = _ => 64 };
        var quiet = new Option<bool>("--quiet") { Description = "Only warnings and errors in the log." };
        var command = new Command("serve", "Run the intake and the worker (and optionally the trainer) against Azurite until stopped, for your own clients.")
        {
            connection, data, port, trainer, device, rows, quiet,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            AzuriteEmulator? emulator = null;
            try
            {
                string connectionString;
                if (parse.GetValue(connection) is { } given)
                {
                    connectionString = given;
                }
                else
                {
                    string azurite = await ToolsDirectory.FindOrInstallAzuriteAsync(parse.InvocationConfiguration.Error, cancellationToken);
                    string folder = Path.GetFullPath(parse.GetValue(data)!);
                    emulator = AzuriteEmulator.StartOnPorts(azurite, folder, parse.GetValue(port));
                    connectionString = emulator.ConnectionString;
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"Azurite {AzuriteEmulator.Version} on 127.0.0.1: blob {emulator.BlobPort}, queue {emulator.QueuePort}, table {emulator.TablePort}; data in {folder} (kept across restarts)."));
                }

                string deviceName = parse.GetValue(device)!;
                await using LocalPipeline pipeline = await LocalPipeline.StartAsync(
                    connectionString, new PipelineStorageOptions(), worker =>
                    {
                        worker.Device = deviceName;
                        worker.MaxRowsPerPass = parse.GetValue(rows);
                        worker.PollInterval = TimeSpan.FromMilliseconds(250);
                        worker.ModelCacheDirectory = Path.Combine(ToolsDirectory.Path, "serve-model-cache");
                    },
                    parse.GetValue(quiet) ? LogLevel.Warning : LogLevel.Information, cancellationToken,
                    parse.GetValue(trainer) ? t => t.Device = deviceName : null);
                await RegisterDefaultModelAsync(pipeline.Registry, output, cancellationToken);
                await PrintHowToUseAsync(output, connectionString, pipeline.Storage.Options, parse.GetValue(trainer));
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    await output.WriteLineAsync("Stopping: the worker finishes the images it has started and hands the rest back to the queue.");
                }
            }
            finally
            {
                emulator?.Dispose();
            }

            await output.WriteLineAsync("Stopped.");
            return 0;
        });
        return command;
    }

    private static async Task RegisterDefaultModelAsync(ModelRegistry registry, TextWriter output, CancellationToken cancellationToken)
    {
        if ((await registry.ListVersionsAsync(DefaultModel.ModelName, cancellationToken)).Count > 0)
        {
            return;
        }

        if (DefaultModel.ReadEmbedded() is not { } embedded)
        {
            await output.WriteLineAsync($"No model is registered and this build has no embedded one: register one with `shortcut models register {DefaultModel.ModelName} --file ...`.");
            return;
        }

        ModelManifest manifest = await DefaultModel.RegisterAsync(registry, embedded, cancellationToken);
        await output.WriteLineAsync($"Registered the embedded Fashion-MNIST model as {manifest.Model} {manifest.Version}, the latest.");
    }

    private static Task PrintHowToUseAsync(TextWriter output, string connectionString, PipelineStorageOptions names, bool trainer) =>
        output.WriteLineAsync($"""
            Serving: put jobs on the queue {names.JobsQueue} (plain JSON or base64) with any Storage client; images land in the container {names.ImagesContainer}, statuses in the table {names.JobsTable}{(trainer ? $", and training requests on {names.TrainingQueue} are trained" : "")}.
            Connection string ({SettingNames.StorageConnection}):
              {connectionString}
            For example:  shortcut enqueue job.json --connection "<that>"  then  shortcut wait <id> --connection "<that>"  and  shortcut download <id> --out dir --connection "<that>"
            Ctrl+C stops.
            """);
}
