using System.CommandLine;
using System.Globalization;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Worker;
using static TorchSharp.torch;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>`shortcut sample`: PNGs from a checkpoint at any step budgets, and a grid with one row per budget.</summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint or sampling export (.safetensors).", Required = true };
        var steps = new Option<string>("--steps") { Description = "Step budgets, e.g. 1,4,128 or 1-128.", DefaultValueFactory = _ => "1,4,128" };
        var labels = new Option<string>("--labels") { Description = "Class labels: all, none (unconditional), or a list such as 0,3,7.", DefaultValueFactory = _ => "all" };
        var perLabel = new Option<int>("--per-label") { Description = "Images per label and budget.", DefaultValueFactory = _ => 1 };
        var cfg = new Option<double>("--cfg") { Description = "Classifier-free guidance scale (1: none).", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long>("--seed") { Description = "Image i uses seed + i, the same at every budget.", DefaultValueFactory = _ => 0 };
        var vae = new Option<string?>("--vae") { Description = "VAE decoder weights for latent-space models (diffusers safetensors)." };
        var device = CommonOptions.Device();
        var bf16 = new Option<bool>("--bf16") { Description = "Sample with bfloat16 weights (CUDA)." };
        var output = new Option<string>("--out") { Description = "Output folder.", Required = true };
        var command = new Command("sample", "Draw images at one or more step budgets from the same weights.")
        {
            model, steps, labels, perLabel, cfg, seed, vae, device, bf16, output,
        };
        command.SetAction(parse =>
        {
            var dev = Devices.Parse(parse.GetValue(device)!);
            string outDir = parse.GetValue(output)!;
            using var dit = Checkpoint.LoadForSampling(parse.GetValue(model)!, dev, parse.GetValue(bf16) ? ScalarType.BFloat16 : ScalarType.Float32);
            var config = dit.Config;
            var decoder = ImageDecoders.For(config, parse.GetValue(vae), dev);
            var chosen = ParseLabels(parse.GetValue(labels)!, config);
            int count = parse.GetValue(perLabel);
            var budgets = CommonOptions.ParseInts(parse.GetValue(steps)!);
            var sampler = new ShortcutSampler(dit);
            var rows = new List<Tensor>();
            Directory.CreateDirectory(outDir);
            foreach (int budget in budgets)
            {
                var requests = chosen.SelectMany(label => Enumerable.Range(0, count))
                    .Select((_, i) => new SampleRequest(chosen[i / count], budget, parse.GetValue(cfg), parse.GetValue(seed) + i)).ToList();
                using var result = sampler.Sample(requests);
                var bytes = decoder.DecodeToBytes(result.Samples);
                string folder = Path.Combine(outDir, $"{budget}-steps");
                Directory.CreateDirectory(folder);
                for (int i = 0; i < requests.Count; i++)
                {
                    var r = requests[i];
                    string className = ImageWriter.ClassName(r.Label, config);
                    File.WriteAllBytes(Path.Combine(folder, $"{i:D4}-{Slug(className)}.png"), PngWriter.Encode(bytes[i], new Dictionary<string, string>
                    {
                        ["seed"] = r.Seed.ToString(CultureInfo.InvariantCulture), ["steps"] = budget.ToString(CultureInfo.InvariantCulture),
                        ["class"] = className, ["cfg"] = r.CfgScale.ToString(CultureInfo.InvariantCulture),
                    }));
                }
                rows.Add(bytes);
                Console.WriteLine($"{requests.Count} images at {budget} step{(budget == 1 ? "" : "s")} -> {folder}");
            }
            using var all = cat(rows);
            File.WriteAllBytes(Path.Combine(outDir, "grid.png"), ImageGrid.EncodePng(all, columns: chosen.Count * count));
            foreach (var row in rows) row.Dispose();
            Console.WriteLine($"grid (one row per budget: {string.Join(", ", budgets)}) -> {Path.Combine(outDir, "grid.png")}");
            return 0;
        });
        return command;
    }

    internal static IReadOnlyList<int?> ParseLabels(string value, DiTConfig config) => value switch
    {
        "all" => Enumerable.Range(0, config.NumClasses).Select(i => (int?)i).ToList(),
        "none" => [null],
        _ => CommonOptions.ParseInts(value).Select(i => i >= 0 && i < config.NumClasses ? (int?)i
            : throw new ArgumentException($"--labels: {i} is not a class of this model (0..{config.NumClasses - 1}).")).ToList(),
    };

    private static string Slug(string name) => new(name.Select(c => char.IsLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
}
