using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model;
using ShortcutPipeline.Worker;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut local`: the whole pipeline on this machine. Installs Azurite if missing and starts it, registers the
/// default model (embedded, or trained once on Fashion-MNIST), runs the intake and the worker in-process, enqueues
/// example jobs with step budgets 1, 4 and 128, waits with a progress bar, and writes the PNGs and contact sheets
/// to a local folder. Azurite is stopped at the end.
/// </summary>
public static class LocalCommand
{
    public const string ExamplePrefix = "ShortcutPipeline.Cli.LocalRun.examples.";

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Where the images go.", DefaultValueFactory = _ => Path.Combine("out", "local-run") };
        var jobs = new Option<string[]>("--jobs") { Description = "Job files to run instead of the examples (budgets 1, 4 and 128).", AllowMultipleArgumentsPerToken = true };
        var model = new Option<string?>("--model") { Description = "A sampling export (.safetensors) to register as the model \"fashion\" instead of the default one." };
        var trainSteps = new Option<long>("--train-steps") { Description = "Training steps of the fallback model (only when this build has no embedded model).", DefaultValueFactory = _ => 2000 };
        var device = CommonOptions.Device();
        var timeout = new Option<TimeSpan>("--timeout") { Description = "Give up waiting for the jobs after this long.", DefaultValueFactory = _ => TimeSpan.FromMinutes(30) };
        var verbose = CommonOptions.Verbose();
        var command = new Command("local", "Run the pipeline locally against Azurite: example jobs in, PNGs and contact sheets out.")
        {
            output, jobs, model, trainSteps, device, timeout, verbose,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter log = parse.InvocationConfiguration.Error;
            TextWriter result = parse.InvocationConfiguration.Output;
            string outDirectory = Path.GetFullPath(parse.GetValue(output)!);
            IReadOnlyList<JobMessage> jobMessages;
            try
            {
                jobMessages = ReadJobs(parse.GetValue(jobs));
            }
            catch (Exception exception) when (exception is FormatException or IOException or InvalidOperationException)
            {
                await log.WriteLineAsync(exception.Message);
                return 1;
            }

            var clock = Stopwatch.StartNew();
            string azurite = await ToolsDirectory.FindOrInstallAzuriteAsync(log, cancellationToken);
            string azuriteData = Path.Combine(outDirectory, ".azurite");
            if (Directory.Exists(azuriteData))
            {
                Directory.Delete(azuriteData, recursive: true);
            }

            using AzuriteEmulator emulator = AzuriteEmulator.Start(azurite, azuriteData);
            await log.WriteLineAsync($"Azurite {AzuriteEmulator.Version} is running (blob {emulator.BlobPort}, queue {emulator.QueuePort}, table {emulator.TablePort}; data in {azuriteData}).");

            byte[] checkpoint = await LoadModelAsync(parse.GetValue(model), parse.GetValue(trainSteps), parse.GetValue(device)!, log, cancellationToken);
            await using LocalPipeline pipeline = await LocalPipeline.StartAsync(
                emulator.ConnectionString, new PipelineStorageOptions(), worker =>
                {
                    worker.Device = parse.GetValue(device)!;
                    worker.PollInterval = TimeSpan.FromMilliseconds(250);
                    worker.ModelCacheDirectory = Path.Combine(outDirectory, ".model-cache");
                },
                parse.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning, cancellationToken);
            ModelManifest manifest = await DefaultModel.RegisterAsync(pipeline.Registry, checkpoint, cancellationToken);
            await log.WriteLineAsync($"Model {manifest.Model} {manifest.Version} is registered and promoted; the intake and the worker are running.");

            var jobIds = new List<string>();
            foreach (JobMessage job in jobMessages)
            {
                jobIds.Add((await JobSubmitter.EnqueueAsync(pipeline.Storage.JobsQueue, job, base64: false, cancellationToken)).JobId);
            }

            await log.WriteLineAsync($"Enqueued {jobIds.Count} jobs: {string.Join(", ", jobIds)}.");
            IReadOnlyList<JobStatus> finished;
            try
            {
                finished = await WaitCommand.WaitWithProgressAsync(pipeline.Status, jobIds, parse.GetValue(timeout), cancellationToken);
            }
            catch (TimeoutException exception)
            {
                await log.WriteLineAsync(exception.Message);
                return ShortcutCli.ExitCodes.Timeout;
            }

            var downloads = new List<JobDownload>();
            foreach (string jobId in jobIds)
            {
                downloads.Add(await JobDownloader.DownloadAsync(pipeline.Storage, jobId, outDirectory, cancellationToken));
            }

            string? overall = await WriteOverallContactSheetAsync(downloads, outDirectory, cancellationToken);
            WorkerMetricsSnapshot metrics = pipeline.Metrics.Snapshot();
            await WaitCommand.PrintAsync(result, finished);
            foreach (JobDownload download in downloads.Where(d => d.ContactSheet is not null))
            {
                await result.WriteLineAsync($"{download.JobId}: {download.Images.Count} PNGs and {JobDownloader.ContactSheetName} in {download.Folder}");
            }

            if (overall is not null)
            {
                await result.WriteLineAsync($"All jobs, one row each: {overall}");
            }

            await result.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Worker: {metrics.ForwardPasses} forward passes, {metrics.MeanRowsPerPass:F1} rows each on average, {metrics.ImagesStored} images, {metrics.ImagesPerSecond:F1} images/s; whole run {clock.Elapsed.TotalSeconds:F0} s."));
            return finished.All(s => s.State == JobState.Completed) ? 0 : 1;
        });
        return command;
    }

    /// <summary>The jobs of the given files, or the built-in examples (budgets 1, 4 and 128).</summary>
    internal static IReadOnlyList<JobMessage> ReadJobs(IReadOnlyList<string>? files)
    {
        IEnumerable<string> texts = files is { Count: > 0 }
            ? files.Select(File.ReadAllText)
            : typeof(LocalCommand).Assembly.GetManifestResourceNames()
                .Where(name => name.StartsWith(ExamplePrefix, StringComparison.Ordinal))
                .OrderBy(name => int.Parse(name[ExamplePrefix.Length..].Split('-', '.')[1], CultureInfo.InvariantCulture))
                .Select(ReadResource);
        List<JobMessage> jobs = texts.SelectMany(JobMessages.Read).ToList();
        JobMessage? bad = jobs.FirstOrDefault(j => j.Problems.Count > 0);
        return bad is null
            ? jobs
            : throw new FormatException($"Job {bad.Id ?? "(without id)"} breaks the job contract: {string.Join(" ", bad.Problems)}");
    }

    private static string ReadResource(string name)
    {
        using Stream stream = typeof(LocalCommand).Assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static async Task<byte[]> LoadModelAsync(string? modelFile, long trainSteps, string device, TextWriter log, CancellationToken cancellationToken)
    {
        if (modelFile is not null)
        {
            await log.WriteLineAsync($"Using the model {modelFile}.");
            return await File.ReadAllBytesAsync(modelFile, cancellationToken);
        }

        if (DefaultModel.ReadEmbedded() is { } embedded)
        {
            await log.WriteLineAsync("Using the embedded Fashion-MNIST model.");
            return embedded;
        }

        string runDirectory = Path.Combine(ToolsDirectory.Path, "models", string.Create(CultureInfo.InvariantCulture, $"fashion-mnist-{trainSteps}-steps"));
        string export = await DefaultModel.TrainFallbackAsync(runDirectory, trainSteps, Devices.Parse(device), log, cancellationToken);
        await log.WriteLineAsync($"Using the model {export}.");
        return await File.ReadAllBytesAsync(export, cancellationToken);
    }

    private static async Task<string?> WriteOverallContactSheetAsync(IReadOnlyList<JobDownload> downloads, string outDirectory, CancellationToken cancellationToken)
    {
        List<JobDownload> withImages = downloads.Where(d => d.Images.Count > 0).ToList();
        if (withImages.Count == 0)
        {
            return null;
        }

        var pngs = new List<byte[]>();
        foreach (string image in withImages.SelectMany(d => d.Images))
        {
            pngs.Add(await File.ReadAllBytesAsync(image, cancellationToken));
        }

        try
        {
            byte[] sheet = JobDownloader.ContactSheet(pngs, columns: withImages.Max(d => d.Images.Count));
            string path = Path.Combine(outDirectory, JobDownloader.ContactSheetName);
            await File.WriteAllBytesAsync(path, sheet, cancellationToken);
            return path;
        }
        catch (InvalidDataException)
        {
            return null;   // jobs of different image sizes: each has its own sheet
        }
    }
}
