using System.Globalization;
using System.Text;
using ShortcutPipeline.Model.Data;
using ShortcutPipeline.Model.Imaging;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>One cell of the quality table: a model's Fréchet distance at one step budget (lower is better).</summary>
public sealed record QualityRow(string Model, int Steps, double FrechetDistance);

/// <summary>
/// The paper's headline comparison in miniature: sample quality against step budget (1, 2, 4, ..., 128) for each
/// model, scored by the Fréchet distance to real images in the feature space of a <see cref="QualityClassifier"/>.
/// </summary>
public sealed class QualityEvaluation(QualityClassifier classifier, ImageDataset reference, int samples = 1000, long seed = 0) : IDisposable
{
    private Tensor? realFeatures;

    public int Samples { get; } = samples;
    public int BatchSize { get; init; } = 250;
    public double CfgScale { get; init; } = 1.0;

    /// <summary>Features of the first <see cref="Samples"/> reference images (computed once).</summary>
    public Tensor RealFeatures()
    {
        if (realFeatures is null)
        {
            int count = Math.Min(Samples, reference.Count);
            using var indices = arange(count, dtype: int64);
            using var images = reference.ToModelInput(indices);
            realFeatures = classifier.Features(images);
        }
        return realFeatures;
    }

    /// <summary>
    /// Scores <paramref name="model"/> at each budget. Labels cycle through the classes (the reference set's
    /// balance), and sample i uses seed + i at every budget, so budgets differ only in the number of steps.
    /// </summary>
    public IEnumerable<QualityRow> Evaluate(string name, DiT model, IEnumerable<int> budgets, CancellationToken cancellationToken = default)
    {
        var sampler = new ShortcutSampler(model);
        var real = RealFeatures();
        foreach (int steps in budgets)
        {
            var requests = Enumerable.Range(0, Samples)
                .Select(i => new SampleRequest(i % model.Config.NumClasses, steps, CfgScale, seed + i)).ToList();
            var features = new List<Tensor>();
            foreach (var chunk in requests.Chunk(BatchSize))
            {
                using var result = sampler.Sample(chunk, cancellationToken: cancellationToken);
                using var images = result.Samples.clamp(-1, 1);
                features.Add(classifier.Features(images));
            }
            using var fake = cat(features);
            foreach (var f in features) f.Dispose();
            yield return new QualityRow(name, steps, FrechetDistance.Compute(real, fake));
        }
    }

    public void Dispose() => realFeatures?.Dispose();

    /// <summary>A Markdown table: one row per model, one column per budget.</summary>
    public static string ToMarkdown(IReadOnlyList<QualityRow> rows)
    {
        var budgets = rows.Select(r => r.Steps).Distinct().Order().ToList();
        var text = new StringBuilder();
        text.AppendLine("| model | " + string.Join(" | ", budgets.Select(b => $"{b} step{(b == 1 ? "" : "s")}")) + " |");
        text.AppendLine("|---|" + string.Concat(budgets.Select(_ => "---|")));
        foreach (var model in rows.Select(r => r.Model).Distinct())
        {
            var cells = budgets.Select(b => rows.FirstOrDefault(r => r.Model == model && r.Steps == b) is { } row
                ? row.FrechetDistance.ToString("F2", CultureInfo.InvariantCulture) : "");
            text.AppendLine($"| {model} | {string.Join(" | ", cells)} |");
        }
        return text.ToString();
    }

    public static void WriteCsv(string path, IEnumerable<QualityRow> rows) =>
        File.WriteAllLines(path, rows.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Model},{r.Steps},{r.FrechetDistance:R}"))
            .Prepend("model,steps,frechet_distance"));

    public static void WritePlot(string path, IReadOnlyList<QualityRow> rows, string title)
    {
        var plot = new LinePlot { Title = title, XLabel = "sampling steps", YLabel = "Frechet distance (lower is better)" };
        foreach (var model in rows.Select(r => r.Model).Distinct())
            plot.Lines.Add(new LinePlot.Series(model, rows.Where(r => r.Model == model).Select(r => ((double)r.Steps, r.FrechetDistance)).ToList()));
        plot.Save(path);
    }
}
