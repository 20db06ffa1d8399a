using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Storage.Queues;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model;
using ShortcutPipeline.Worker;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut bench-serving`: an open-loop load of jobs with mixed step budgets (by default 70 % 1-step, 20 % 4-step,
/// 10 % 128-step) at a fixed mean arrival rate for a fixed time, through Azurite, the intake and the worker, measured
/// in one run four ways: the step scheduler with the whole mix; the same arrivals without the largest budget's jobs;
/// the budget-keyed batching of the earlier worker with the whole mix; and the step scheduler under a saturating
/// backlog. It prints per-budget latency (enqueue to completed status) p50/p95/p99, images/s and the mean rows per
/// forward pass against the row limit.
/// </summary>
public static class BenchServingCommand
{
    private static readonly JsonSerializerOptions ReportJson = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public static Command Create()
    {
        var common = new PipelineBench();
        var rows = new Option<int>("--max-rows-per-pass") { Description = "The worker's row limit.", DefaultValueFactory = _ => 64 };
        var rate = new Option<double>("--rate") { Description = "Mean job arrivals per second (Poisson arrivals).", DefaultValueFactory = _ => 8 };
        var duration = new Option<double>("--duration") { Description = "Seconds of arrivals per phase.", DefaultValueFactory = _ => 20 };
        var mix = new Option<string>("--mix") { Description = "Step budgets and their shares of the jobs.", DefaultValueFactory = _ => "1:0.7,4:0.2,128:0.1" };
        var images = new Option<int>("--images-per-job") { Description = "Images per job.", DefaultValueFactory = _ => 1 };
        var backlog = new Option<int>("--saturate-jobs") { Description = "Jobs of the mix enqueued at once for the saturated phase (0: as many as make 16 images per row of the limit).", DefaultValueFactory = _ => 0 };
        var backlogImages = new Option<int>("--saturate-images-per-job") { Description = "Images per job of the saturated phase (16: one work item each, so that the intake keeps up).", DefaultValueFactory = _ => 16 };
        var seed = new Option<int>("--seed") { Description = "Seed of the arrival times and budgets.", DefaultValueFactory = _ => 0 };
        var command = new Command("bench-serving", "Measure per-budget latency and rows per pass under an open-loop mixed-budget load, against the earlier batching.")
        {
            rows, rate, duration, mix, images, backlog, backlogImages, seed,
        };
        common.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var load = new Load(
                ParseMix(parse.GetValue(mix)!), parse.GetValue(rate), TimeSpan.FromSeconds(parse.GetValue(duration)), parse.GetValue(images),
                parse.GetValue(seed));
            int rowLimit = parse.GetValue(rows);
            if (load.Rate <= 0 || load.Duration <= TimeSpan.Zero || load.ImagesPerJob is < 1 or > 256 || rowLimit < 1)
            {
                throw new ArgumentException("--rate and --duration must be positive, --images-per-job 1 to 256, --max-rows-per-pass at least 1.");
            }

            using BenchModel benchModel = common.ResolveModel(parse);
            int saturateImages = Math.Clamp(parse.GetValue(backlogImages), 1, 256);
            int saturate = parse.GetValue(backlog) is > 0 and var count ? count : Math.Max(1, 16 * rowLimit / saturateImages);
            Report report = await RunAsync(benchModel, load, rowLimit, saturate, saturateImages, common.Device(parse),
                common.LogLevel(parse), parse.InvocationConfiguration.Error, cancellationToken);
            await parse.InvocationConfiguration.Output.WriteAsync(Format(report));
            await common.WriteReportAsync(parse, report, ReportJson, cancellationToken);

            return 0;
        });
        return command;
    }

    /// <summary>The open-loop load: budgets with their shares, mean arrivals per second, how long, images per job, seed.</summary>
    public sealed record Load(IReadOnlyList<(int Steps, double Share)> Mix, double Rate, TimeSpan Duration, int ImagesPerJob, int Seed)
    {
        /// <summary>The arrivals: Poisson at <see cref="Rate"/> for <see cref="Duration"/>, each with a budget drawn from the mix.</summary>
        public IReadOnlyList<Arrival> Arrivals()
        {
            var random = new Random(Seed);
            var arrivals = new List<Arrival>();
            for (double at = -Math.Log(1 - random.NextDouble()) / Rate; at < Duration.TotalSeconds; at += -Math.Log(1 - random.NextDouble()) / Rate)
            {
                arrivals.Add(new Arrival(TimeSpan.FromSeconds(at), Draw(random)));
            }

            return arrivals;
        }

        /// <summary><paramref name="count"/> jobs of the mix at once (a backlog).</summary>
        public IReadOnlyList<Arrival> Backlog(int count)
        {
            var random = new Random(Seed + 1);
            return Enumerable.Range(0, count).Select(_ => new Arrival(TimeSpan.Zero, Draw(random))).ToList();
        }

        private int Draw(Random random)
        {
            double pick = random.NextDouble() * Mix.Sum(m => m.Share);
            return Mix.SkipWhile(m => (pick -= m.Share) > 0).Select(m => m.Steps).DefaultIfEmpty(Mix[^1].Steps).First();
        }

        /// <summary>"1:70%, 4:20%, 128:10%".</summary>
        public string Describe() => string.Join(", ", Mix.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Steps}:{100 * m.Share / Mix.Sum(x => x.Share):F0}%")));
    }

    /// <summary>One job of the load: when it is enqueued (from the start of the phase) and its step budget.</summary>
    public sealed record Arrival(TimeSpan At, int Steps);

    /// <summary>Latency from enqueueing a job to its completed status, for the jobs of one step budget.</summary>
    public sealed record BudgetLatency(int Steps, int Jobs, double P50Milliseconds, double P95Milliseconds, double P99Milliseconds);

    /// <summary>One phase's figures.</summary>
    public sealed record Phase(
        string Name, SchedulingPolicy Scheduling, int Jobs, int FailedJobs, double EnqueuedPerSecond, double ImagesPerSecond, long ForwardPasses,
        double MeanRowsPerPass, IReadOnlyList<BudgetLatency> Budgets);

    /// <summary>The whole run.</summary>
    public sealed record Report(
        string Model, string Device, int RowLimit, double Rate, double DurationSeconds, string Mix, int ImagesPerJob, IReadOnlyList<Phase> Phases,
        int SaturatedJobs, int SaturatedImagesPerJob, long SaturatedPasses, double SaturatedMeanRowsPerPass)
    {
        /// <summary>The mix's step budgets, ascending.</summary>
        public IReadOnlyList<int> Budgets => Phases.SelectMany(p => p.Budgets).Select(b => b.Steps).Distinct().Order().ToList();

        /// <summary>The smallest budget's p95 with the largest budget's jobs in the mix over its p95 without them.</summary>
        public double SmallestBudgetP95Ratio => P95(Phases[0], Budgets[0]) / P95(Phases[1], Budgets[0]);

        /// <summary>Saturated mean rows per pass over the row limit.</summary>
        public double SaturatedFill => SaturatedMeanRowsPerPass / RowLimit;

        private static double P95(Phase phase, int steps) => phase.Budgets.FirstOrDefault(b => b.Steps == steps)?.P95Milliseconds ?? double.NaN;
    }

    public static async Task<Report> RunAsync(
        BenchModel model, Load load, int rowLimit, int saturateJobs, int saturateImagesPerJob, string deviceName, LogLevel logLevel, TextWriter log,
        CancellationToken cancellationToken)
    {
        IReadOnlyList<Arrival> arrivals = load.Arrivals();
        int largest = load.Mix.Max(m => m.Steps);
        if (!arrivals.Any(a => a.Steps != largest))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"The load draws {arrivals.Count} jobs, none of them below the largest budget ({largest} steps), so the phase without the {largest}-step jobs would have none: raise --rate or --duration."));
        }

        await log.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{arrivals.Count} jobs per phase ({load.Describe()}, {load.ImagesPerJob} images each) at {load.Rate} jobs/s for {load.Duration.TotalSeconds} s; row limit {rowLimit}."));
        using AzuriteEmulator emulator = AzuriteEmulator.Start(await ToolsDirectory.FindOrInstallAzuriteAsync(log, cancellationToken));
        string cache = Directory.CreateTempSubdirectory("shortcut-bench-cache-").FullName;
        var bench = new Bench(emulator.ConnectionString, model, rowLimit, deviceName, cache, logLevel, log);
        try
        {
            var phases = new List<Phase>
            {
                await bench.OpenLoopAsync("step scheduler, whole mix", SchedulingPolicy.Continuous, arrivals, load.ImagesPerJob, cancellationToken),
                await bench.OpenLoopAsync($"step scheduler, no {largest}-step jobs", SchedulingPolicy.Continuous,
                    arrivals.Where(a => a.Steps != largest).ToList(), load.ImagesPerJob, cancellationToken),
                await bench.OpenLoopAsync("budget batches, whole mix", SchedulingPolicy.BudgetBatches, arrivals, load.ImagesPerJob, cancellationToken),
            };
            IReadOnlyList<Arrival> backlog = load.Backlog(saturateJobs);
            (long passes, double meanRows) = await bench.SaturatedAsync(backlog, saturateImagesPerJob, cancellationToken);
            TorchSharp.torch.Device device = Devices.Parse(deviceName);
            return new Report(bench.ModelName, device.ToString(), rowLimit, load.Rate, load.Duration.TotalSeconds, load.Describe(), load.ImagesPerJob,
                phases, backlog.Count, saturateImagesPerJob, passes, meanRows);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    /// <summary>The report as a table.</summary>
    public static string Format(Report report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        IReadOnlyList<int> budgets = report.Budgets;
        text.AppendLine(CultureInfo.InvariantCulture,
            $"bench-serving: {report.Model} on {report.Device}, row limit {report.RowLimit}; open loop {report.Rate} jobs/s for {report.DurationSeconds} s ({report.Mix}; {report.ImagesPerJob} images per job)");
        text.AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"{"phase",-34} {"jobs",5} {"images/s",9} {"passes",7} {"rows/pass",9}");
        foreach (int steps in budgets)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {$"{steps}-step p50/p95/p99 ms",-26}");
        }

        text.AppendLine();
        foreach (Phase phase in report.Phases)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"{phase.Name,-34} {phase.Jobs,5} {phase.ImagesPerSecond,9:F1} {phase.ForwardPasses,7} {phase.MeanRowsPerPass,9:F1}");
            foreach (int steps in budgets)
            {
                BudgetLatency? latency = phase.Budgets.FirstOrDefault(b => b.Steps == steps);
                string cell = latency is null ? "-" : string.Create(CultureInfo.InvariantCulture, $"{latency.P50Milliseconds:F0} / {latency.P95Milliseconds:F0} / {latency.P99Milliseconds:F0}");
                text.Append(CultureInfo.InvariantCulture, $"  {cell,-26}");
            }

            text.AppendLine(phase.FailedJobs > 0 ? string.Create(CultureInfo.InvariantCulture, $"  ({phase.FailedJobs} jobs did not complete)") : "");
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{budgets[0]}-step p95 with the {budgets[^1]}-step jobs in the mix / without them: {report.SmallestBudgetP95Ratio:F2}x");
        text.AppendLine(CultureInfo.InvariantCulture,
            $"saturated ({report.SaturatedJobs} jobs of {report.SaturatedImagesPerJob} images at once, step scheduler): {report.SaturatedMeanRowsPerPass:F1} rows per pass of the limit {report.RowLimit} ({100 * report.SaturatedFill:F1} %) over the {report.SaturatedPasses} passes while rows waited");
        return text.ToString();
    }

    /// <summary>"1:0.7,4:0.2,128:0.1".</summary>
    public static IReadOnlyList<(int Steps, double Share)> ParseMix(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var mix = new List<(int, double)>();
        foreach (string part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] pair = part.Split(':');
            if (pair.Length != 2 || !int.TryParse(pair[0], CultureInfo.InvariantCulture, out int steps) || !StepBudget.IsValid(steps)
                || !double.TryParse(pair[1], CultureInfo.InvariantCulture, out double share) || share <= 0)
            {
                throw new ArgumentException($"--mix \"{value}\": expected budget:share pairs such as 1:0.7,4:0.2,128:0.1 (budgets powers of two up to 128, shares positive).");
            }

            mix.Add((steps, share));
        }

        return mix.Count >= 2 ? mix.OrderBy(m => m.Item1).ToList() : throw new ArgumentException("--mix needs at least two budgets.");
    }

    // One Azurite, a fresh pipeline (storage names, worker) per phase.
    private sealed class Bench(
        string connectionString, BenchModel model, int rowLimit, string deviceName, string cache, LogLevel logLevel, TextWriter log)
    {
        private int phaseNumber;

        public string ModelName => model.Config.Name;

        public async Task<Phase> OpenLoopAsync(
            string name, SchedulingPolicy scheduling, IReadOnlyList<Arrival> arrivals, int imagesPerJob, CancellationToken cancellationToken)
        {
            await log.WriteLineAsync($"Phase: {name} ({arrivals.Count} jobs)...");
            await using LocalPipeline pipeline = await StartAsync(scheduling, cancellationToken);
            WorkerMetricsSnapshot before = pipeline.Metrics.Snapshot();
            Dictionary<string, (DateTimeOffset Enqueued, int Steps)> jobs = await EnqueueAsync(pipeline, arrivals, imagesPerJob, cancellationToken);
            IReadOnlyList<JobStatus> statuses = await WaitAsync(pipeline, before, jobs.Keys.ToList(), imagesPerJob, cancellationToken);
            WorkerMetricsSnapshot after = pipeline.Metrics.Snapshot();

            var done = statuses.Where(s => s.State == JobState.Completed).ToList();
            DateTimeOffset first = jobs.Values.Min(j => j.Enqueued);
            double seconds = done.Count == 0 ? double.NaN : (done.Max(s => s.FinishedAt!.Value) - first).TotalSeconds;
            double enqueueSeconds = (jobs.Values.Max(j => j.Enqueued) - first).TotalSeconds;
            var budgets = done.GroupBy(s => jobs[s.Id].Steps).OrderBy(g => g.Key).Select(g =>
            {
                double[] milliseconds = g.Select(s => (s.FinishedAt!.Value - jobs[s.Id].Enqueued).TotalMilliseconds).Order().ToArray();
                return new BudgetLatency(g.Key, milliseconds.Length, Percentile(milliseconds, 0.50), Percentile(milliseconds, 0.95), Percentile(milliseconds, 0.99));
            }).ToList();
            long passes = after.ForwardPasses - before.ForwardPasses;
            return new Phase(name, scheduling, jobs.Count, jobs.Count - done.Count, enqueueSeconds > 0 ? jobs.Count / enqueueSeconds : 0,
                done.Count * imagesPerJob / seconds, passes, passes == 0 ? 0 : (double)(after.RowsInPasses - before.RowsInPasses) / passes, budgets);
        }

        // The backlog at once; the mean rows of the passes after which rows still waited (the worker had more than it could take).
        public async Task<(long Passes, double MeanRows)> SaturatedAsync(IReadOnlyList<Arrival> backlog, int imagesPerJob, CancellationToken cancellationToken)
        {
            await log.WriteLineAsync($"Phase: saturated ({backlog.Count} jobs of {imagesPerJob} images at once)...");
            await using LocalPipeline pipeline = await StartAsync(SchedulingPolicy.Continuous, cancellationToken);
            WorkerMetricsSnapshot before = pipeline.Metrics.Snapshot();
            Dictionary<string, (DateTimeOffset Enqueued, int Steps)> jobs = await EnqueueAsync(pipeline, backlog, imagesPerJob, cancellationToken);
            await WaitAsync(pipeline, before, jobs.Keys.ToList(), imagesPerJob, cancellationToken);
            WorkerMetricsSnapshot after = pipeline.Metrics.Snapshot();
            List<PassRecord> saturated = after.Passes.TakeLast((int)(after.ForwardPasses - before.ForwardPasses)).Where(p => p.WaitingRows > 0).ToList();
            return (saturated.Count, saturated.Count == 0 ? 0 : saturated.Average(p => p.Rows));
        }

        private async Task<LocalPipeline> StartAsync(SchedulingPolicy scheduling, CancellationToken cancellationToken)
        {
            var names = PipelineStorageOptions.WithPrefix(string.Create(CultureInfo.InvariantCulture, $"bench{++phaseNumber}"));
            LocalPipeline pipeline = await PipelineBench.StartPipelineAsync(
                connectionString, names, model, deviceName, rowLimit, cache, worker => worker.Scheduling = scheduling, intakePollInterval: null, logLevel, cancellationToken);

            // Untimed: loads the model and warms every path up, one job per budget twice over.
            WorkerMetricsSnapshot before = pipeline.Metrics.Snapshot();
            var warmUp = new[] { 1, 4, 128, 1, 4, 128 }.Select(s => new Arrival(TimeSpan.Zero, s)).ToList();
            await WaitAsync(pipeline, before, (await EnqueueAsync(pipeline, warmUp, 1, cancellationToken)).Keys.ToList(), 1, cancellationToken);
            return pipeline;
        }

        // Enqueues each job at its arrival time (open loop: never waiting for earlier jobs), remembering when it was enqueued.
        private async Task<Dictionary<string, (DateTimeOffset Enqueued, int Steps)>> EnqueueAsync(
            LocalPipeline pipeline, IReadOnlyList<Arrival> arrivals, int imagesPerJob, CancellationToken cancellationToken)
        {
            QueueClient queue = pipeline.Storage.JobsQueue;
            var jobs = new Dictionary<string, (DateTimeOffset, int)>(StringComparer.Ordinal);
            var clock = Stopwatch.StartNew();
            string batch = Guid.NewGuid().ToString("N")[..8];
            for (int i = 0; i < arrivals.Count; i++)
            {
                TimeSpan wait = arrivals[i].At - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                string id = string.Create(CultureInfo.InvariantCulture, $"bench-{batch}-{i}");
                string items = string.Join(", ", Enumerable.Range(0, imagesPerJob).Select(k => string.Create(CultureInfo.InvariantCulture, $$"""{ "label": {{(i + k) % 10}} }""")));
                jobs[id] = (DateTimeOffset.UtcNow, arrivals[i].Steps);
                await queue.SendMessageAsync(string.Create(CultureInfo.InvariantCulture,
                    $$"""{ "id": "{{id}}", "model": { "name": "{{DefaultModel.ModelName}}" }, "items": [ {{items}} ], "steps": {{arrivals[i].Steps}}, "seed": {{i}} }"""),
                    cancellationToken);
            }

            return jobs;
        }

        // Waits until the worker has stored the jobs' images (a status is recorded before its image counts), reading the
        // statuses then, and every few seconds in case a job failed: each read is a storage call that competes with the pipeline.
        private static async Task<IReadOnlyList<JobStatus>> WaitAsync(
            LocalPipeline pipeline, WorkerMetricsSnapshot before, IReadOnlyList<string> jobIds, int imagesPerJob, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            TimeSpan lastRead = TimeSpan.Zero;
            while (true)
            {
                bool stored = pipeline.Metrics.Snapshot().ImagesStored - before.ImagesStored >= (long)jobIds.Count * imagesPerJob;
                if (stored || clock.Elapsed - lastRead > TimeSpan.FromSeconds(5))
                {
                    lastRead = clock.Elapsed;
                    JobStatus?[] statuses = await Task.WhenAll(jobIds.Select(id => pipeline.Status.GetAsync(id, cancellationToken)));
                    if (statuses.All(s => s is not null && s.State.IsTerminal()))
                    {
                        return statuses!;
                    }

                    if (clock.Elapsed > TimeSpan.FromMinutes(30))
                    {
                        throw new TimeoutException($"{statuses.Count(s => s is null || !s.State.IsTerminal())} benchmark jobs did not finish within 30 minutes.");
                    }
                }

                await Task.Delay(50, cancellationToken);
            }
        }

        private static double Percentile(double[] sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
