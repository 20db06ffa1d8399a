using System.Globalization;
using ShortcutPipeline.Model.Data;
using ShortcutPipeline.Model.Imaging;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>Where and how often a training run writes its files.</summary>
public sealed record TrainingLoopOptions
{
    public required string OutputDirectory { get; init; }
    public long TotalSteps { get; init; } = 1000;
    public int CheckpointEvery { get; init; } = 1000;
    /// <summary>Step budgets of the sample grid written beside each checkpoint (one row per budget, one column per class).</summary>
    public IReadOnlyList<int> GridBudgets { get; init; } = [1, 4, 128];
    /// <summary>Type of the weights in the sampling export (bfloat16 halves the download of big models).</summary>
    public ScalarType ExportType { get; init; } = ScalarType.Float32;
    /// <summary>Training checkpoints kept in the folder (older ones are deleted; sampling exports stay).</summary>
    public int KeepCheckpoints { get; init; } = 2;
}

/// <summary>The files of one checkpoint, all in the run's output folder.</summary>
public sealed record CheckpointFiles(long Step, string Checkpoint, string SamplingModel, string SampleGrid, string LossCsv, string LossPlot,
    IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// A training run on disk (the nanoGPT-style train loop): trains to the total step count and, every N steps and at
/// the end, writes step-{n}.safetensors (resumable), step-{n}.sampling.safetensors (EMA weights for the workers),
/// step-{n}.grid.png (samples at budgets 1, 4 and 128), and keeps loss.csv and loss.png up to date. A folder that
/// already holds checkpoints is resumed from the newest.
/// </summary>
public static class TrainingLoop
{
    public const string LossCsvName = "loss.csv";
    public const string LossPlotName = "loss.png";

    public static string CheckpointName(long step) => $"step-{step}.safetensors";
    public static string SamplingName(long step) => $"step-{step}.sampling.safetensors";
    public static string GridName(long step) => $"step-{step}.grid.png";

    /// <summary>The newest resumable checkpoint in a folder, if any.</summary>
    public static string? LatestCheckpoint(string directory) =>
        Directory.Exists(directory) ? CheckpointsNewestFirst(directory).FirstOrDefault() : null;

    /// <summary>The resumable checkpoints of a folder (step-{n}.safetensors), newest first.</summary>
    private static IEnumerable<string> CheckpointsNewestFirst(string directory) =>
        Directory.EnumerateFiles(directory, "step-*.safetensors")
            .Select(path => (path, step: StepOf(Path.GetFileName(path))))
            .Where(c => c.step is not null)
            .OrderByDescending(c => c.step)
            .Select(c => c.path);

    private static long? StepOf(string fileName)
    {
        var parts = fileName.Split('.');
        return parts.Length == 2 && parts[0].StartsWith("step-", StringComparison.Ordinal) &&
               long.TryParse(parts[0]["step-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var step) ? step : null;
    }

    /// <summary>
    /// Trains <paramref name="trainer"/> to <see cref="TrainingLoopOptions.TotalSteps"/>; after each checkpoint's files
    /// are written, <paramref name="onCheckpoint"/> runs (the trainer host uploads them to Blob Storage there).
    /// </summary>
    public static async Task RunAsync(Trainer trainer, ImageDataset data, TrainingLoopOptions options,
        IProgress<TrainingProgress>? progress = null, Func<CheckpointFiles, CancellationToken, Task>? onCheckpoint = null,
        CancellationToken cancellationToken = default)
    {
        if (options.CheckpointEvery < 1) throw new ArgumentException("CheckpointEvery must be at least 1.");
        if (data.Channels != trainer.Config.InChannels || data.ImageSize != trainer.Config.InputSize)
            throw new ArgumentException($"The dataset has {data.Channels}x{data.ImageSize}x{data.ImageSize} images; the model takes {trainer.Config.InChannels}x{trainer.Config.InputSize}x{trainer.Config.InputSize}.");
        if (data.NumClasses > trainer.Config.NumClasses)
            throw new ArgumentException($"The dataset has {data.NumClasses} classes; the model was configured for {trainer.Config.NumClasses}.");
        Directory.CreateDirectory(options.OutputDirectory);
        var losses = LossLog.Open(Path.Combine(options.OutputDirectory, LossCsvName), trainer.Step);

        while (trainer.Step < options.TotalSteps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long nextCheckpoint = Math.Min(options.TotalSteps, (trainer.Step / options.CheckpointEvery + 1) * options.CheckpointEvery);
            trainer.Train(data, nextCheckpoint, progress, (t, loss) => losses.Add(t.Step, loss), cancellationToken);
            var files = WriteCheckpoint(trainer, options, losses);
            if (onCheckpoint is not null) await onCheckpoint(files, cancellationToken);
        }
    }

    private static CheckpointFiles WriteCheckpoint(Trainer trainer, TrainingLoopOptions options, LossLog losses)
    {
        string dir = options.OutputDirectory;
        long step = trainer.Step;
        var metrics = new Dictionary<string, double> { ["loss"] = losses.RecentMean() };
        var files = new CheckpointFiles(step, Path.Combine(dir, CheckpointName(step)), Path.Combine(dir, SamplingName(step)),
            Path.Combine(dir, GridName(step)), Path.Combine(dir, LossCsvName), Path.Combine(dir, LossPlotName), metrics);

        Checkpoint.Save(trainer, files.Checkpoint, metrics);
        Checkpoint.ExportForSampling(trainer, files.SamplingModel, options.ExportType, metrics);
        File.WriteAllBytes(files.SampleGrid, SampleGrid(trainer.Ema.Model, options.GridBudgets));
        losses.Flush();
        losses.Plot(files.LossPlot);
        foreach (var old in CheckpointsNewestFirst(dir).Skip(options.KeepCheckpoints)) File.Delete(old);
        return files;
    }

    /// <summary>One row per budget, one column per class, the same seeds in every row (pixel-space models).</summary>
    public static byte[] SampleGrid(DiT model, IReadOnlyList<int> budgets, long seed = 0)
    {
        if (model.Config.Space != "pixel") throw new NotSupportedException("Sample grids of latent models need the VAE: use `shortcut sample`.");
        int classes = model.Config.NumClasses;
        var requests = budgets.SelectMany(steps => Enumerable.Range(0, classes).Select(c => new SampleRequest(c, steps, 1.0, seed + c))).ToList();
        using var result = new ShortcutSampler(model).Sample(requests);
        using var bytes = PixelDecoder.Instance.DecodeToBytes(result.Samples);
        return ImageGrid.EncodePng(bytes, columns: classes);
    }

    /// <summary>loss.csv: step, loss, appended as the run goes; on resume, rows past the resumed step are dropped.</summary>
    private sealed class LossLog
    {
        private readonly string path;
        private readonly List<(long Step, double Loss)> rows;
        private int written;

        private LossLog(string path, List<(long, double)> rows) => (this.path, this.rows, written) = (path, rows, rows.Count);

        public static LossLog Open(string path, long resumedStep)
        {
            var rows = new List<(long, double)>();
            if (File.Exists(path))
            {
                foreach (var line in File.ReadLines(path).Skip(1))
                {
                    var cells = line.Split(',');
                    if (cells.Length >= 2 && long.TryParse(cells[0], CultureInfo.InvariantCulture, out var step) && step <= resumedStep &&
                        double.TryParse(cells[1], CultureInfo.InvariantCulture, out var loss))
                        rows.Add((step, loss));
                }
            }
            File.WriteAllLines(path, rows.Select(Format).Prepend("step,loss"));
            return new LossLog(path, rows);
        }

        private static string Format((long Step, double Loss) row) => string.Create(CultureInfo.InvariantCulture, $"{row.Step},{row.Loss:R}");

        public void Add(long step, double loss) => rows.Add((step, loss));

        public double RecentMean() => rows.Count == 0 ? double.NaN : rows.TakeLast(100).Average(r => r.Loss);

        public void Flush()
        {
            File.AppendAllLines(path, rows.Skip(written).Select(Format));
            written = rows.Count;
        }

        public void Plot(string plotPath)
        {
            if (rows.Count == 0) return;
            // A moving average keeps the curve readable; at most about 500 points.
            int window = Math.Max(1, rows.Count / 50);
            int stride = Math.Max(1, rows.Count / 500);
            var points = new List<(double, double)>();
            for (int i = 0; i < rows.Count; i += stride)
            {
                int from = Math.Max(0, i - window + 1);
                points.Add((rows[i].Step, rows.Skip(from).Take(i - from + 1).Average(r => r.Loss)));
            }
            var plot = new LinePlot { Title = "training loss", XLabel = "step", YLabel = "loss (moving average)", LogX = false };
            plot.Lines.Add(new LinePlot.Series("loss", points));
            plot.Save(plotPath);
        }
    }
}
