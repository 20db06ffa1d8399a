using ShortcutPipeline.Contracts;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut bench`: sampler images/s for budgets 1, 4 and 128 at batch sizes 1, 16 and 64, the achieved GFLOP/s
/// as a fraction of a matmul measured in the same run, training images/s, and resident memory over 1,000 sampler
/// batches. Prints a table and writes the figures as JSON.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = $"Model preset: {string.Join(", ", DiT.PresetNames)}.", DefaultValueFactory = _ => "DiT-Tiny/2" };
        var imageSize = new Option<int?>("--input-size") { Description = "Model input size (default: the preset's)." };
        var channels = new Option<int?>("--channels") { Description = "Input channels (default: the preset's)." };
        var device = CommonOptions.Device();
        var bf16 = new Option<bool>("--bf16") { Description = "Sample with bfloat16 weights and train with bfloat16 compute (CUDA)." };
        var budgets = new Option<string>("--budgets") { Description = "Step budgets to time.", DefaultValueFactory = _ => "1,4,128" };
        var batches = new Option<string>("--batch-sizes") { Description = "Batch sizes to time.", DefaultValueFactory = _ => "1,16,64" };
        var memoryBatches = new Option<int>("--memory-batches") { Description = "Sampler batches for the memory check.", DefaultValueFactory = _ => 1000 };
        var trainSteps = new Option<int>("--train-steps") { Description = "Timed training steps (batch 64).", DefaultValueFactory = _ => 20 };
        var output = CommonOptions.ReportFile();
        var command = new Command("bench", "Measure sampler and training throughput, efficiency against matmul, and memory.")
        {
            preset, imageSize, channels, device, bf16, budgets, batches, memoryBatches, trainSteps, output,
        };
        command.SetAction(parse =>
        {
            var dev = Devices.Parse(parse.GetValue(device)!);
            var config = DiT.Preset(parse.GetValue(preset)!);
            config = config with
            {
                InputSize = parse.GetValue(imageSize) ?? config.InputSize,
                InChannels = parse.GetValue(channels) ?? config.InChannels,
            };
            var report = Run(config, dev, parse.GetValue(bf16), CommonOptions.ParseInts(parse.GetValue(budgets)!),
                CommonOptions.ParseInts(parse.GetValue(batches)!), parse.GetValue(memoryBatches), parse.GetValue(trainSteps));
            if (parse.GetValue(output) is { } path)
                File.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return command;
    }

    public sealed record SamplerFigure(int Steps, int BatchSize, double Seconds, double ImagesPerSecond, double GflopPerSecond, double FractionOfMatmul);

    public sealed record Report(
        string Model, long Parameters, double GflopPerForwardImage, string Device, string DType, double MatmulGflopPerSecond,
        IReadOnlyList<SamplerFigure> Sampler, double TrainingImagesPerSecond, int MemoryBatches, double RssAfterWarmupMiB,
        double RssAtEndMiB, double PeakRssMiB);

    public static Report Run(DiTConfig config, Device device, bool bfloat16, IReadOnlyList<int> budgets, IReadOnlyList<int> batchSizes,
        int memoryBatches, int trainSteps)
    {
        var dtype = bfloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var model = new DiT(config, seed: 0);
        model.to(device).to(dtype);
        model.eval();
        double flopsPerImage = model.ForwardFlopsPerImage();
        Console.WriteLine($"model {config.Name} {config.InputSize}x{config.InputSize}x{config.InChannels}, {model.ParameterCount() / 1e6:F2}M parameters, " +
                          $"{flopsPerImage / 1e9:F3} GFLOP per image per forward, {device.type} {dtype}, {get_num_threads()} threads");

        double matmul = MatmulGflops(device, dtype);
        Console.WriteLine($"matmul: {matmul:F1} GFLOP/s");

        var sampler = new ShortcutSampler(model);
        var figures = new List<SamplerFigure>();
        Console.WriteLine("| steps | batch | images/s | GFLOP/s | of matmul |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (int steps in budgets)
        {
            foreach (int batch in batchSizes)
            {
                var requests = Enumerable.Range(0, batch).Select(i => new SampleRequest(i % config.NumClasses, steps, 1.0, i)).ToList();
                using (sampler.Sample(requests.Take(1).Select(r => r with { Steps = 1 }).ToList())) { }   // warm-up
                // Repeat short cells until about a second has passed, so small batches are not timer noise.
                var clock = Stopwatch.StartNew();
                int repeats = 0;
                do
                {
                    using var result = sampler.Sample(requests);
                    Synchronize(device);
                    repeats++;
                } while (clock.Elapsed.TotalSeconds < 1.0);
                double seconds = clock.Elapsed.TotalSeconds / repeats;
                double imagesPerSecond = batch / seconds;
                double gflops = imagesPerSecond * steps * flopsPerImage / 1e9;
                figures.Add(new SamplerFigure(steps, batch, seconds, imagesPerSecond, gflops, gflops / matmul));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {steps} | {batch} | {imagesPerSecond:F1} | {gflops:F1} | {gflops / matmul:P1} |"));
            }
        }

        double trainingImagesPerSecond = TrainingThroughput(config, device, bfloat16, trainSteps);
        Console.WriteLine($"training: {trainingImagesPerSecond:F1} images/s (batch 64, shortcut objective)");

        var (afterWarmup, atEnd, peak) = SamplerMemory(sampler, config, device, memoryBatches);
        Console.WriteLine($"memory over {memoryBatches} sampler batches (batch 16, 1 step): RSS {afterWarmup:F0} MiB after 10 batches, " +
                          $"{atEnd:F0} MiB at the end, peak RSS of the whole bench {peak:F0} MiB");

        return new Report(config.Name, model.ParameterCount(), flopsPerImage / 1e9, device.ToString(), dtype.ToString(), matmul,
            figures, trainingImagesPerSecond, memoryBatches, afterWarmup, atEnd, peak);
    }

    private static double MatmulGflops(Device device, ScalarType dtype)
    {
        int n = device.type == DeviceType.CUDA ? 8192 : 1024;
        using var a = randn([n, n], dtype: dtype, device: device);
        using var b = randn([n, n], dtype: dtype, device: device);
        using (a.matmul(b)) Synchronize(device);
        var clock = Stopwatch.StartNew();
        int repeats = 0;
        do
        {
            using var c = a.matmul(b);
            Synchronize(device);
            repeats++;
        } while (clock.Elapsed.TotalSeconds < 1.0);
        return 2.0 * n * n * n * repeats / clock.Elapsed.TotalSeconds / 1e9;
    }

    private static double TrainingThroughput(DiTConfig config, Device device, bool bfloat16, int steps)
    {
        const int batch = 64;
        using var generator = new Generator(1);
        using var data = new ImageDataset(
            randint(0, 256, [batch * 4, config.InChannels, config.InputSize, config.InputSize], dtype: ScalarType.Byte, generator: generator),
            randint(0, config.NumClasses, [batch * 4], generator: generator),
            Enumerable.Range(0, config.NumClasses).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToList());
        using var trainer = new Model.Trainer(config, new TrainingConfig { BatchSize = batch, BFloat16 = bfloat16 }, device);
        for (int i = 0; i < 3; i++) trainer.TrainStep(data);
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) trainer.TrainStep(data);
        Synchronize(device);
        return steps * batch / clock.Elapsed.TotalSeconds;
    }

    private static (double AfterWarmup, double AtEnd, double Peak) SamplerMemory(ShortcutSampler sampler, DiTConfig config, Device device, int batches)
    {
        var requests = Enumerable.Range(0, 16).Select(i => new SampleRequest(i % config.NumClasses, 1, 1.5, i)).ToList();
        double afterWarmup = 0;
        for (int i = 0; i < batches; i++)
        {
            using var result = sampler.Sample(requests);
            if (i == 9) afterWarmup = ResidentMiB();
        }
        Synchronize(device);
        return (afterWarmup, ResidentMiB(), PeakResidentMiB());
    }

    internal static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }

    internal static double ResidentMiB() => Environment.WorkingSet / 1024.0 / 1024.0;

    /// <summary>VmHWM: the process's peak resident set size.</summary>
    internal static double PeakResidentMiB()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }
}
