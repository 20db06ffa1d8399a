using ShortcutPipeline.Contracts;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Worker;
using static TorchSharp.torch;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut bench-pipeline`: end-to-end images/s through Azurite (jobs queue, intake, work queue, worker, PNG
/// blobs, completed statuses) next to the bare sampler's images/s at the same batch size and step budget, both
/// measured in this run with the same model on the same device, and their ratio.
/// </summary>
public static class BenchPipelineCommand
{
    // How soon the intake and the worker ask their empty queues again. Each timed round starts after an idle spell (the
    // bare sampler's round), where a steady load would find them busy: their idle polls would be timed as the pipeline's.
    private static readonly TimeSpan IdlePollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan RoundTimeout = TimeSpan.FromMinutes(30);

    public static Command Create()
    {
        var common = new PipelineBench();
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward pass (the worker's MaxRowsPerPass; at most 256), and per job.", DefaultValueFactory = _ => 64 };
        var steps = new Option<int>("--steps") { Description = "Step budget of every image.", DefaultValueFactory = _ => 4 };
        var batches = new Option<int>("--batches") { Description = "Timed batches: the bare sampler runs as many, the pipeline gets as many jobs of one batch each, taking turns in up to four rounds.", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "CPU threads of the sampler, bare and in the worker alike (the worker's SamplerThreads); the other cores serve the storing stage and Azurite. Default 0: libtorch's choice, one per core." };
        var command = new Command("bench-pipeline", "Measure end-to-end images/s through Azurite against the bare sampler's.")
        {
            batchSize, steps, batches, threads,
        };
        common.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            int size = parse.GetValue(batchSize), budget = parse.GetValue(steps), count = parse.GetValue(batches);
            int samplerThreads = parse.GetValue(threads);
            if (size is < 1 or > 256 || count < 1 || !StepBudget.IsValid(budget) || samplerThreads < 0)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync("--batch-size must be 1 to 256, --batches at least 1, --steps a power of two from 1 to 128, --threads 0 or more.");
                return 1;
            }

            using BenchModel model = common.ResolveModel(parse);
            Report report = await RunAsync(model, size, budget, count, samplerThreads, common.Device(parse),
                common.LogLevel(parse), parse.InvocationConfiguration.Error, cancellationToken);
            TextWriter result = parse.InvocationConfiguration.Output;
            await result.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"model {report.Model}, batch {report.BatchSize}, {report.Steps} steps, {report.Device} {report.DType}, {report.SamplerThreads} sampler threads of {Environment.ProcessorCount} cores"));
            await result.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"bare sampler:            {report.SamplerImagesPerSecond,10:F1} images/s"));
            await result.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"end to end via Azurite:  {report.PipelineImagesPerSecond,10:F1} images/s ({report.Images} images in {report.PipelineSeconds:F2} s; the worker ran {report.WorkerPasses} forward passes of {report.MeanRowsPerPass:F1} rows on average, {report.WorkerSamplingSeconds:F2} s in all, storing beside them)"));
            await result.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"ratio (end to end / bare): {report.Ratio:F3}; per round, the two timed one after the other: {string.Join(", ", report.RoundRatios.Select(r => r.ToString("F3", CultureInfo.InvariantCulture)))} (median {report.MedianRoundRatio:F3})"));
            await result.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"the worker's own forward passes ran at {report.WorkerSamplingImagesPerSecond:F1} images/s: end to end / that = {report.RatioToWorkerSampling:F3} (the same sampler, timed inside the worker in the same window)"));
            await common.WriteReportAsync(parse, report, new JsonSerializerOptions { WriteIndented = true }, cancellationToken);

            return 0;
        });
        return command;
    }

    public sealed record Report(
        string Model, string Device, string DType, int SamplerThreads, int BatchSize, int Steps, int Images, double SamplerImagesPerSecond,
        double PipelineImagesPerSecond, double PipelineSeconds, long WorkerPasses, double MeanRowsPerPass, double WorkerSamplingSeconds,
        double Ratio, IReadOnlyList<double> RoundRatios)
    {
        /// <summary>The median of the rounds' ratios (each round: the bare sampler and the pipeline one after the other).</summary>
        public double MedianRoundRatio => RoundRatios.Order().ElementAt(RoundRatios.Count / 2) / 2 + RoundRatios.Order().ElementAt((RoundRatios.Count - 1) / 2) / 2;

        /// <summary>The sampler's rate inside the worker's forward passes (sampling and decoding, no storage).</summary>
        public double WorkerSamplingImagesPerSecond => Images / WorkerSamplingSeconds;

        /// <summary>End to end against the worker's own sampling: what the storage path costs, immune to load that drifts between timings.</summary>
        public double RatioToWorkerSampling => PipelineImagesPerSecond / WorkerSamplingImagesPerSecond;
    }

    public static async Task<Report> RunAsync(
        BenchModel model, int batchSize, int steps, int batches, int samplerThreads, string deviceName, LogLevel logLevel, TextWriter log,
        CancellationToken cancellationToken)
    {
        // Before any tensor: libtorch gives each thread its count when that thread first runs a kernel, so the bare
        // sampler's thread and the worker's alike run on this many (the worker sets the same from its options).
        if (samplerThreads > 0)
        {
            set_num_threads(samplerThreads);
        }

        int threads = get_num_threads();

        Device device = Devices.Parse(deviceName);
        ScalarType dtype = Devices.SamplingType(device);
        using var stream = new MemoryStream(model.Checkpoint, writable: false);
        using DiT network = Checkpoint.LoadForSampling(stream, device, dtype);
        var sampler = new ShortcutSampler(network);
        IImageDecoder decoder = ImageDecoders.For(network.Config, model.VaePath, device);
        using IDisposable? decoderWeights = decoder as IDisposable;
        int classes = network.Config.NumClasses;

        // The bare sampler and the pipeline take turns, a round each at a time (A B A B ...), so that a machine whose
        // load drifts during the run weighs on both figures alike; each round's ratio is a pair measured side by side.
        int rounds = Math.Clamp(batches / 2, 1, 4);
        await log.WriteLineAsync("Starting Azurite, the intake and the worker...");
        using AzuriteEmulator emulator = AzuriteEmulator.Start(await ToolsDirectory.FindOrInstallAzuriteAsync(log, cancellationToken));
        string cache = Directory.CreateTempSubdirectory("shortcut-bench-cache-").FullName;
        TimeSpan samplerTime = TimeSpan.Zero, pipelineTime = TimeSpan.Zero;
        var roundRatios = new List<double>();
        WorkerMetricsSnapshot before, after;
        try
        {
            await using LocalPipeline pipeline = await PipelineBench.StartPipelineAsync(
                emulator.ConnectionString, new PipelineStorageOptions(), model, deviceName, batchSize, cache,
                worker =>
                {
                    worker.SamplerThreads = samplerThreads;
                    worker.PollInterval = IdlePollInterval;
                },
                intakePollInterval: IdlePollInterval, logLevel, cancellationToken);

            int warmUpJobs = await WarmUpAsync(pipeline, batches / rounds, batchSize, steps, classes, log, cancellationToken);
            before = pipeline.Metrics.Snapshot();
            for (int round = 0, done = 0; round < rounds; round++)
            {
                int count = (batches - done) / (rounds - round);
                await log.WriteLineAsync($"Round {round + 1} of {rounds}: the bare sampler, then the pipeline, {count} batches of {batchSize} at {steps} steps each...");
                TimeSpan bare = TimeSampler(sampler, decoder, batchSize, steps, count, device);
                TimeSpan piped = await RunJobsAsync(
                    pipeline, string.Create(CultureInfo.InvariantCulture, $"timed-{round}"), count, batchSize, steps, classes, cancellationToken);
                samplerTime += bare;
                pipelineTime += piped;
                roundRatios.Add(bare / piped);
                done += count;
            }

            after = pipeline.Metrics.Snapshot();
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }

        double samplerImagesPerSecond = batches * batchSize / samplerTime.TotalSeconds;
        double pipelineImagesPerSecond = batches * batchSize / pipelineTime.TotalSeconds;
        long passes = after.ForwardPasses - before.ForwardPasses;
        return new Report(network.Config.Name, device.ToString(), dtype.ToString(), threads, batchSize, steps, batches * batchSize, samplerImagesPerSecond,
            pipelineImagesPerSecond, pipelineTime.TotalSeconds, passes, (double)(after.RowsInPasses - before.RowsInPasses) / passes,
            (after.SamplingTime - before.SamplingTime).TotalSeconds, pipelineImagesPerSecond / samplerImagesPerSecond, roundRatios);
    }

    // Untimed rounds of jobs, as many as a timed round has, load the model and warm up the whole path until .NET has done
    // recompiling it. .NET compiles a method again, optimised, after its first calls (and once more after profiling
    // them), on a thread of its own that shares the cores with the sampler; a method called once per job gets there only
    // after a few rounds. So warm-up rounds go on until one of them has .NET compile fewer than a tenth as many methods
    // as the first, or for five rounds at most. Returns the jobs run. The bare sampler warms up in TimeSampler.
    private static async Task<int> WarmUpAsync(
        LocalPipeline pipeline, int jobsPerRound, int batchSize, int steps, int classes, TextWriter log, CancellationToken cancellationToken)
    {
        const int MaxRounds = 5;
        long firstRound = 0;
        for (int round = 0; ; round++)
        {
            long compiledBefore = JitInfo.GetCompiledMethodCount();
            string name = string.Create(CultureInfo.InvariantCulture, $"warm-up-{round}");
            await RunJobsAsync(pipeline, name, jobsPerRound, batchSize, steps, classes, cancellationToken);
            long compiled = JitInfo.GetCompiledMethodCount() - compiledBefore;
            await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Warm-up round {round + 1}: .NET compiled {compiled} methods."));
            firstRound = round == 0 ? compiled : firstRound;
            if (round + 1 == MaxRounds || (round > 0 && compiled * 10 < firstRound))
            {
                return (round + 1) * jobsPerRound;
            }
        }
    }

    // The bare sampler's batches, each decoded to 8-bit pixels on the host as the worker's are (through the VAE for a
    // latent-space model).
    private static TimeSpan TimeSampler(ShortcutSampler sampler, IImageDecoder decoder, int batchSize, int steps, int batches, Device device)
    {
        int classes = sampler.Model.Config.NumClasses;
        var requests = Enumerable.Range(0, batchSize).Select(i => new SampleRequest(i % classes, steps, 1.0, i)).ToList();
        void Batch()
        {
            using var scope = NewDisposeScope();
            using SampleResult result = sampler.Sample(requests);
            _ = decoder.DecodeToBytes(result.Samples).cpu();
        }

        // Warm-up: the first batches after loading run slower (allocator, lazy initialisation): two batches and a second at least.
        var warmUp = Stopwatch.StartNew();
        for (int i = 0; i < 2 || warmUp.Elapsed < TimeSpan.FromSeconds(1); i++)
        {
            Batch();
        }

        BenchCommand.Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < batches; i++)
        {
            Batch();
        }

        BenchCommand.Synchronize(device);
        return clock.Elapsed;
    }

    // Enqueues `jobs` jobs of one batch each on the jobs queue and waits until the worker has stored every image of them;
    // returns the time from the first enqueue to the last job's completion as its status records it (the worker's clock is
    // this machine's). The wait watches the worker's metrics in this process and reads the statuses only every few seconds
    // (to stop at a job that failed) and once at the end: polling every unfinished job's status through the round made
    // about a sixth of Azurite's table reads, on the same cores as the sampler.
    private static async Task<TimeSpan> RunJobsAsync(
        LocalPipeline pipeline, string name, int jobs, int batchSize, int steps, int classes, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        long imagesStored = pipeline.Metrics.Snapshot().ImagesStored + ((long)jobs * batchSize);   // the previous round's are all counted
        DateTimeOffset start = TimeProvider.System.GetUtcNow();
        for (int j = 0; j < jobs; j++)
        {
            string items = string.Join(", ", Enumerable.Range(0, batchSize).Select(i => string.Create(CultureInfo.InvariantCulture, $$"""{ "label": {{i % classes}} }""")));
            string id = string.Create(CultureInfo.InvariantCulture, $"{name}-{j}");
            string json = string.Create(CultureInfo.InvariantCulture,
                $$"""{ "id": "{{id}}", "model": { "name": "{{DefaultModel.ModelName}}" }, "items": [ {{items}} ], "steps": {{steps}}, "seed": {{j}} }""");
            await JobSubmitter.EnqueueAsync(pipeline.Storage.JobsQueue, JobMessages.Read(json).Single(), base64: false, cancellationToken);
            ids.Add(id);
        }

        var statuses = new JobStatus?[ids.Count];
        var waited = Stopwatch.StartNew();
        var sinceCheck = Stopwatch.StartNew();
        while (pipeline.Metrics.Snapshot().ImagesStored < imagesStored)
        {
            await Task.Delay(20, cancellationToken);
            if (sinceCheck.Elapsed > TimeSpan.FromSeconds(5))
            {
                await pipeline.Status.RefreshAsync(ids, statuses, cancellationToken);
                ThrowIfAny(statuses, s => s is not null && s.State.IsTerminal() && s.State != JobState.Completed);
                if (waited.Elapsed > RoundTimeout)
                {
                    throw new TimeoutException($"The worker stored {imagesStored - pipeline.Metrics.Snapshot().ImagesStored} images fewer than the round's in {RoundTimeout}.");
                }

                sinceCheck.Restart();
            }
        }

        await pipeline.Status.RefreshAsync(ids, statuses, cancellationToken);
        ThrowIfAny(statuses, s => s?.State != JobState.Completed);
        return statuses.Max(s => s!.FinishedAt!.Value) - start;
    }

    private static void ThrowIfAny(JobStatus?[] statuses, Func<JobStatus?, bool> wrong)
    {
        if (statuses.Any(wrong))
        {
            JobStatus? status = statuses.First(wrong);
            throw new InvalidOperationException(status is null
                ? "A benchmark job has no status after the worker stored its images."
                : $"Benchmark job {status.Id} is {status.State}: {status.Error} {string.Join(" ", status.Reasons)}");
        }
    }
}
