using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Worker;

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
