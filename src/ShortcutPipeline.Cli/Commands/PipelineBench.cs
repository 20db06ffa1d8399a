using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Contracts;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Core;
using ShortcutPipeline.Model;
using ShortcutPipeline.Worker;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// What the benchmarks that run the pipeline on Azurite (bench-pipeline, bench-serving) share: their options (the model
/// they time, the device, the report file, the logs) with what each resolves to, and the local pipeline they time.
/// </summary>
public sealed class PipelineBench
{
    private readonly Option<string?> model = new("--model")
    {
        Description = "The model to time, a sampling export (.safetensors); default: the embedded model (or --preset).",
    };

    private readonly Option<string?> preset = new("--preset")
    {
        Description = "Time an untrained model of this architecture (the same work per image as a trained one) instead of the embedded model; DiT-Small/4 when the build has none.",
    };

    private readonly Option<string?> vae = new("--vae")
    {
        Description = "The VAE decoder weights (diffusers safetensors) of a latent-space model; default: random weights of the Stable Diffusion VAE's shape (the same work per image).",
    };

    private readonly Option<string> device = CommonOptions.Device();
    private readonly Option<string?> output = CommonOptions.ReportFile();
    private readonly Option<bool> verbose = CommonOptions.Verbose();

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { model, preset, vae, device, output, verbose })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The device the command line asks for.</summary>
    public string Device(ParseResult parse) => parse.GetValue(device)!;

    /// <summary>The pipeline's log level: its logs with --verbose, else its warnings only.</summary>
    public LogLevel LogLevel(ParseResult parse) => parse.GetValue(verbose) ? Microsoft.Extensions.Logging.LogLevel.Information : Microsoft.Extensions.Logging.LogLevel.Warning;

    /// <summary>
    /// The model to time: --model's file, or an untrained --preset (the same work per image as a trained one), or else
    /// the embedded model, or else an untrained DiT-Small/4. A latent-space model decodes through --vae's weights;
    /// without them, through a decoder of the Stable Diffusion VAE's shape with random weights (the same work per
    /// image), written to a temporary folder that lives as long as the returned model. What it falls back to is said on
    /// the error writer.
    /// </summary>
    public BenchModel ResolveModel(ParseResult parse)
    {
        TextWriter log = parse.InvocationConfiguration.Error;
        byte[] checkpoint = ReadCheckpoint(parse, log);
        DiTConfig config;
        using (var stream = new MemoryStream(checkpoint, writable: false))
        {
            config = Checkpoint.ReadInfo(stream).Config;
        }

        if (config.Space != "latent")
        {
            return new BenchModel(checkpoint, config, VaePath: null, TemporaryFolder: null);
        }

        if (parse.GetValue(vae) is { } vaePath)
        {
            return new BenchModel(checkpoint, config, vaePath, TemporaryFolder: null);
        }

        log.WriteLine($"{config.Name} is a latent-space model and there is no --vae: decoding through a VAE decoder of the Stable Diffusion shape with random weights (the same work per image as the real one).");
        string folder = Directory.CreateTempSubdirectory("shortcut-bench-vae-").FullName;
        string path = Path.Combine(folder, "diffusion_pytorch_model.safetensors");
        using (var decoder = new VaeDecoder(VaeConfig.StableDiffusion))
        {
            SafetensorsFile.Write(path, decoder.state_dict());
        }

        return new BenchModel(checkpoint, config, path, folder);
    }

    private byte[] ReadCheckpoint(ParseResult parse, TextWriter log)
    {
        string? modelFile = parse.GetValue(model), name = parse.GetValue(preset);
        if (modelFile is not null && name is not null)
        {
            throw new ArgumentException("--model and --preset each name the model to time: give one of them.");
        }

        if (modelFile is not null)
        {
            return File.ReadAllBytes(modelFile);
        }

        if (name is null && DefaultModel.ReadEmbedded() is { } embedded)
        {
            return embedded;
        }

        if (name is null)
        {
            name = "DiT-Small/4";
            log.WriteLine($"No --model and no embedded model: timing an untrained {name}.");
        }

        DiTConfig config = name.Equals(DefaultModel.FallbackConfig.Name, StringComparison.OrdinalIgnoreCase)
            ? DefaultModel.FallbackConfig
            : DiT.Preset(name);
        using var trainer = new Model.Trainer(config, new TrainingConfig());
        using var export = new MemoryStream();
        Checkpoint.ExportForSampling(trainer, export);
        return export.ToArray();
    }

    /// <summary>
    /// Starts the local pipeline a benchmark times: a worker on <paramref name="deviceName"/> with the row limit
    /// <paramref name="rowLimit"/> that polls an empty queue every 100 ms, caches models in <paramref name="cache"/> and
    /// decodes through the model's VAE, adjusted by <paramref name="tune"/>, and the intake (polling every
    /// <paramref name="intakePollInterval"/>, default 200 ms); the model is registered as the default model.
    /// </summary>
    public static async Task<LocalPipeline> StartPipelineAsync(
        string connectionString, PipelineStorageOptions names, BenchModel model, string deviceName, int rowLimit, string cache,
        Action<WorkerOptions> tune, TimeSpan? intakePollInterval, LogLevel logLevel, CancellationToken cancellationToken)
    {
        LocalPipeline pipeline = await LocalPipeline.StartAsync(connectionString, names, worker =>
        {
            worker.Device = deviceName;
            worker.MaxRowsPerPass = rowLimit;
            worker.PollInterval = TimeSpan.FromMilliseconds(100);
            worker.ModelCacheDirectory = cache;
            worker.VaePath = model.VaePath;
            tune(worker);
        }, logLevel, cancellationToken, intakePollInterval: intakePollInterval).ConfigureAwait(false);
        try
        {
            await DefaultModel.RegisterAsync(pipeline.Registry, model.Checkpoint, cancellationToken).ConfigureAwait(false);
            return pipeline;
        }
        catch
        {
            await pipeline.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Writes <paramref name="report"/> as JSON to --out's file, when one is given.</summary>
    public async Task WriteReportAsync<TReport>(ParseResult parse, TReport report, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        if (parse.GetValue(output) is { } path)
        {
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(report, json), cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>The model a benchmark times: its sampling export, its configuration, and the VAE decoder weights of a latent-space model.</summary>
/// <param name="Checkpoint">The sampling export.</param>
/// <param name="Config">Its configuration.</param>
/// <param name="VaePath">The VAE decoder weights (latent-space models only).</param>
/// <param name="TemporaryFolder">A folder of random decoder weights, deleted with this.</param>
public sealed record BenchModel(byte[] Checkpoint, DiTConfig Config, string? VaePath, string? TemporaryFolder) : IDisposable
{
    /// <summary>Deletes <see cref="TemporaryFolder"/>.</summary>
    public void Dispose()
    {
        if (TemporaryFolder is not null && Directory.Exists(TemporaryFolder))
        {
            Directory.Delete(TemporaryFolder, recursive: true);
        }
    }
}
