using System.CommandLine;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut eval`: quality against step budget for one or more models, as a Fréchet distance in the features of a
/// classifier trained on the same dataset; writes quality.md, quality.csv and quality.png.
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model") { Description = "NAME=PATH of a checkpoint; repeat to compare models (e.g. shortcut=... flow-matching=...).", Required = true, AllowMultipleArgumentsPerToken = true };
        var dataset = new Option<string>("--dataset") { Description = "The dataset the models were trained on (its test split when it has one).", DefaultValueFactory = _ => DatasetSource.FashionMnistName };
        var budgets = new Option<string>("--budgets") { DefaultValueFactory = _ => "1-128" };
        var samples = new Option<int>("--samples") { Description = "Generated and real images per score.", DefaultValueFactory = _ => 1000 };
        var cfg = new Option<double>("--cfg") { DefaultValueFactory = _ => 1.0 };
        var classifier = new Option<string?>("--classifier") { Description = "Feature classifier file; trained and saved there when missing (default: OUT/classifier.safetensors)." };
        var classifierSteps = new Option<int>("--classifier-steps") { DefaultValueFactory = _ => 2000 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var device = CommonOptions.Device();
        var output = new Option<string>("--out") { Description = "Output folder.", Required = true };
        var command = new Command("eval", "Sample quality (Fréchet distance) against step budget, for shortcut and baseline models.")
        {
            models, dataset, budgets, samples, cfg, classifier, classifierSteps, seed, device, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var dev = Devices.Parse(parse.GetValue(device)!);
            string outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var named = parse.GetValue(models)!.Select(ParseNamed).ToList();
            var first = Checkpoint.ReadInfo(named[0].Path).Config;
            if (first.Space != "pixel") throw new ArgumentException("eval scores pixel-space models (the classifier reads images).");

            using var train = await DatasetSource.OpenAsync(parse.GetValue(dataset)!, first.InputSize, first.InChannels, FashionMnistSplit.Train, cancellationToken: cancellationToken);
            using var test = parse.GetValue(dataset)!.StartsWith(DatasetSource.FashionMnistName, StringComparison.Ordinal)
                ? await DatasetSource.OpenAsync(parse.GetValue(dataset)!, first.InputSize, first.InChannels, FashionMnistSplit.Test, cancellationToken: cancellationToken)
                : train;
            using var features = LoadOrTrainClassifier(parse.GetValue(classifier) ?? Path.Combine(outDir, "classifier.safetensors"),
                train, test, parse.GetValue(classifierSteps), parse.GetValue(seed));
            using var evaluation = new QualityEvaluation(features, test, parse.GetValue(samples), parse.GetValue(seed)) { CfgScale = parse.GetValue(cfg) };

            var rows = new List<QualityRow>();
            var budgetList = CommonOptions.ParseInts(parse.GetValue(budgets)!);
            foreach (var (name, path) in named)
            {
                using var model = Checkpoint.LoadForSampling(path, dev);
                if (model.Config.InputSize != first.InputSize || model.Config.InChannels != first.InChannels)
                    throw new ArgumentException($"{name}: all models must share one image size and channel count.");
                // Counted in sampler steps, so the estimate weighs a 128-step budget 128 times a 1-step one.
                using var bar = new ConsoleProgress($"eval {name}", budgetList.Sum());
                int stepsDone = 0;
                foreach (var row in evaluation.Evaluate(name, model, budgetList, cancellationToken))
                {
                    rows.Add(row);
                    stepsDone += row.Steps;
                    bar.Report(stepsDone, $"{row.Steps} steps: {row.FrechetDistance:F2}");
                }
            }

            var table = QualityEvaluation.ToMarkdown(rows);
            File.WriteAllText(Path.Combine(outDir, "quality.md"), table);
            QualityEvaluation.WriteCsv(Path.Combine(outDir, "quality.csv"), rows);
            QualityEvaluation.WritePlot(Path.Combine(outDir, "quality.png"), rows, "quality against step budget");
            Console.WriteLine($"Frechet distance to {evaluation.Samples} real images in the classifier's features (lower is better):");
            Console.WriteLine(table);
            Console.WriteLine($"-> {Path.Combine(outDir, "quality.md")}, quality.csv, quality.png");
        });
        return command;
    }

    private static (string Name, string Path) ParseNamed(string value)
    {
        int eq = value.IndexOf('=');
        return eq > 0 ? (value[..eq], value[(eq + 1)..]) : (Path.GetFileNameWithoutExtension(value), value);
    }

    private static QualityClassifier LoadOrTrainClassifier(string path, ImageDataset train, ImageDataset test, int steps, long seed)
    {
        if (File.Exists(path))
        {
            var loaded = QualityClassifier.Load(path);
            if (loaded.Fits(train))
            {
                Console.Error.WriteLine($"feature classifier: {path} (test accuracy {loaded.Accuracy(test):P1})");
                return loaded;
            }
            loaded.Dispose();
            Console.Error.WriteLine($"{path} was trained for other images; training a new one");
        }
        var classifier = new QualityClassifier(train.Channels, train.ImageSize, train.NumClasses, seed);
        using (var bar = new ConsoleProgress("feature classifier", steps))
            classifier.Fit(train, steps, seed: seed, progress: new SynchronousProgress<(int Step, double Loss)>(p => bar.Report(p.Step, $"loss {p.Loss:F3}")));
        classifier.Save(path);
        Console.Error.WriteLine($"feature classifier: test accuracy {classifier.Accuracy(test):P1}, saved to {path}");
        return classifier;
    }
}
