using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;

namespace ShortcutPipeline.Worker;

/// <summary>
/// Loads the models of <see cref="ModelPreloadOptions"/> as the worker starts (each at its latest version, through
/// <see cref="SamplingService.GetModelAsync"/>, so the first batch finds it loaded), trying again every
/// <see cref="ModelPreloadOptions.PreloadRetryDelay"/> while a model is not registered yet or fails to load. As the
/// readiness check "models" it is ready once every one of them has been loaded; its detail lists them and what is loaded now.
/// </summary>
public sealed class ModelPreloader : BackgroundService, IReadinessCheck
{
    private readonly SamplingService sampling;
    private readonly ModelRegistry registry;
    private readonly ModelPreloadOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<string, (bool Loaded, string State)> states = new(StringComparer.Ordinal);

    /// <summary>A preloader of <paramref name="options"/>' models into <paramref name="sampling"/>.</summary>
    public ModelPreloader(
        SamplingService sampling, ModelRegistry registry, ModelPreloadOptions options, ILogger<ModelPreloader>? logger = null, TimeProvider? time = null)
    {
        this.sampling = sampling ?? throw new ArgumentNullException(nameof(sampling));
        this.registry = registry ?? throw new ArgumentNullException(nameof(registry));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        this.time = time ?? TimeProvider.System;
        foreach (string model in options.Models)
        {
            states[model] = (false, "not loaded yet");
        }
    }

    /// <inheritdoc/>
    public string Name => "models";

    /// <inheritdoc/>
    public Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken)
    {
        string loadedNow = string.Join(", ", sampling.LoadedVersions.Select(v => $"{v.Model} {v.Version}"));
        loadedNow = loadedNow.Length == 0 ? "none" : loadedNow;
        if (options.Models.Count == 0)
        {
            return Task.FromResult(new ReadinessResult(true, $"No models to preload ({ModelPreloadOptions.PreloadModelsSetting}); loaded now: {loadedNow}."));
        }

        var models = options.Models.Select(model => (Model: model, State: states[model])).ToList();
        string detail = string.Join("; ", models.Select(m => $"{m.Model}: {m.State.State}")) + $". Loaded now: {loadedNow}.";
        return Task.FromResult(new ReadinessResult(models.All(m => m.State.Loaded), detail));
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (string model in options.Models)
        {
            while (!await TryLoadAsync(model, stoppingToken).ConfigureAwait(false))
            {
                await Task.Delay(options.PreloadRetryDelay, time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> TryLoadAsync(string model, CancellationToken cancellationToken)
    {
        try
        {
            ModelManifestEntry? latest = await registry.GetLatestAsync(model, cancellationToken).ConfigureAwait(false);
            if (latest is null)
            {
                states[model] = (false, $"not loaded yet: not registered (no {ModelBlobNames.Latest(model)})");
                logger.LogWarning("Model {Model} is not registered yet; preloading it again in {Delay}.", model, options.PreloadRetryDelay);
                return false;
            }

            LoadedModel loaded = await sampling.GetModelAsync(model, latest.Manifest.Version, cancellationToken).ConfigureAwait(false);
            states[model] = (true, $"version {loaded.Version} loaded");
            logger.LogInformation("Preloaded model {Model} {Version}.", model, loaded.Version);
            return true;
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            states[model] = (false, $"not loaded yet: {exception.GetType().Name}: {exception.Message}");
            logger.LogWarning(exception, "Preloading model {Model} failed; trying again in {Delay}.", model, options.PreloadRetryDelay);
            return false;
        }
    }
}

/// <summary>
/// Which models the worker loads as it starts, before it reports ready (<see cref="ModelPreloader"/>): the setting
/// <see cref="PreloadModelsSetting"/>, a comma-separated list of model names, each loaded at its latest version. Read from
/// the worker's section (<see cref="WorkerOptions.SectionName"/>). Default: none, so readiness is storage alone.
/// </summary>
public sealed class ModelPreloadOptions
{
    /// <summary>The app setting (environment variable) of <see cref="PreloadModels"/>.</summary>
    public const string PreloadModelsSetting = "ShortcutPipeline__Worker__PreloadModels";

    /// <summary>The model names, comma-separated (e.g. <c>fashion-mnist</c>); empty or absent: none.</summary>
    public string? PreloadModels { get; set; }

    /// <summary>How long to wait before trying a model again that is not registered yet or failed to load (default 10 s).</summary>
    public TimeSpan PreloadRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The model names of <see cref="PreloadModels"/>, each once, in order.</summary>
    public IReadOnlyList<string> Models =>
        (PreloadModels ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Throws when a name is not a model name, there are more models than stay loaded at once, or the delay is not positive.</summary>
    public void Validate(int loadedModels)
    {
        string? bad = Models.FirstOrDefault(name => !GenerationJobReader.IsValidModelName(name));
        if (bad is not null)
        {
            throw new InvalidOperationException($"{PreloadModelsSetting}: \"{bad}\" is not a model name.");
        }

        if (Models.Count > loadedModels)
        {
            throw new InvalidOperationException(
                $"{PreloadModelsSetting} names {Models.Count} models, but only {loadedModels} stay loaded at once ({WorkerOptions.SectionName}:{nameof(WorkerOptions.LoadedModels)}): they would unload each other.");
        }

        if (PreloadRetryDelay <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{WorkerOptions.SectionName}:{nameof(PreloadRetryDelay)} must be a positive duration, not {PreloadRetryDelay}.");
        }
    }
}
