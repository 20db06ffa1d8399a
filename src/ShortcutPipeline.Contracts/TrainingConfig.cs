using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ShortcutPipeline.Contracts;

/// <summary>What a run optimises.</summary>
public enum TrainingObjective
{
    /// <summary>Flow matching at d = 1/128 plus self-consistency (bootstrap) targets at d = 1 ... 1/64: one network for every step budget.</summary>
    Shortcut,

    /// <summary>The baseline: flow matching only, every row at d = 1/128 (sampled at that level at every budget).</summary>
    FlowMatching,
}

/// <summary>Which weights compute the two half-steps of the self-consistency targets.</summary>
public enum BootstrapSource
{
    /// <summary>The weights being trained (no gradient through them). Works for short runs: the default.</summary>
    CurrentWeights,

    /// <summary>The EMA of the weights, as in the paper and the official code. Needs long runs.</summary>
    Ema,

    /// <summary>The EMA, with its decay warmed up as min(decay, (1 + n) / (10 + n)) at step n.</summary>
    EmaWithWarmup,
}

/// <summary>
/// Every knob of a training run, in one record: the model preset and its overrides, the objective and its
/// self-consistency settings, the optimiser, the EMA, the seed and the precision. The CLI's <c>shortcut train</c>
/// builds it from its flags, a training request is one (<c>TrainingRequest</c> adds the run's id, model name, dataset
/// and length), and every checkpoint carries it as JSON metadata, so a run resumed anywhere trains the same way.
/// JSON names are the camelCase property names; enums are camelCase strings ("flowMatching", "emaWithWarmup").
/// </summary>
public record TrainingConfig
{
    /// <summary>The largest batch size.</summary>
    public const int MaxBatchSize = 4096;

    /// <summary>A record with every default.</summary>
    public TrainingConfig()
    {
    }

    /// <summary>The model preset (DiT-XL/2, DiT-B/2, DiT-Small/4, DiT-Mini/4, DiT-Tiny/2, ...; the model library knows the list).</summary>
    public string Preset { get; init; } = "DiT-Small/4";

    /// <summary>Image size the model trains at (null: the preset's).</summary>
    public int? InputSize { get; init; }

    /// <summary>Image channels, 1 (grayscale) or 3 (RGB) (null: the preset's).</summary>
    public int? Channels { get; init; }

    /// <summary>Patch size (null: the preset's).</summary>
    public int? PatchSize { get; init; }

    /// <summary>Hidden size (null: the preset's).</summary>
    public int? HiddenSize { get; init; }

    /// <summary>Transformer blocks (null: the preset's).</summary>
    public int? Depth { get; init; }

    /// <summary>Attention heads (null: the preset's).</summary>
    public int? NumHeads { get; init; }

    /// <summary>The objective (default <see cref="TrainingObjective.Shortcut"/>).</summary>
    public TrainingObjective Objective { get; init; } = TrainingObjective.Shortcut;

    /// <summary>Fraction of each batch with self-consistency targets (the paper: 1/4; the official code: 1/8).</summary>
    public double BootstrapFraction { get; init; } = 0.25;

    /// <summary>The weights that compute the self-consistency targets (default: the current ones).</summary>
    public BootstrapSource BootstrapSource { get; init; } = BootstrapSource.CurrentWeights;

    /// <summary>Guidance scale inside the targets of the finest bootstrap level (null: none).</summary>
    public double? BootstrapCfgScale { get; init; }

    /// <summary>Probability that a row's label is replaced by the null class (classifier-free guidance).</summary>
    public double LabelDropout { get; init; } = 0.1;

    /// <summary>The intermediate x and the self-consistency targets are clipped to [-TargetClip, TargetClip].</summary>
    public double TargetClip { get; init; } = 4.0;

    /// <summary>Images per step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>AdamW learning rate.</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; init; } = 0.1;

    /// <summary>Decay of the exponential moving average of the weights (what the workers sample with).</summary>
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>Warm the EMA decay up. Null: on, except when the EMA is the paper's bootstrap teacher.</summary>
    public bool? EmaWarmup { get; init; }

    /// <summary>Seeds the initial weights, the data order and every random draw of every step.</summary>
    public long Seed { get; init; }

    /// <summary>Forward and backward in bfloat16 over float32 master weights (CUDA with compute capability 8.0 or more).</summary>
    public bool BFloat16 { get; init; }

    /// <summary>Whether the EMA decay is warmed up (<see cref="EmaWarmup"/> resolved).</summary>
    [JsonIgnore]
    public bool UsesEmaWarmup => EmaWarmup ?? (Objective != TrainingObjective.Shortcut || BootstrapSource != BootstrapSource.Ema);

    /// <summary>The training settings alone (without what a derived record, such as a training request, adds).</summary>
    public TrainingConfig ToTrainingConfig() => new(this);

    /// <summary>
    /// The rule of each property, by JSON name: what <see cref="Problems"/> checks, in the words a reason uses
    /// ("$.batchSize must be {rule}"): the <c>x-rule</c> of the property in <see cref="TrainingRequestSchema"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Rules { get; } = TrainingRequestSchema.RulesOf(
        typeof(TrainingConfig).GetProperties().Where(p => p.CanWrite).Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)));

    /// <summary>
    /// Every value out of range (see <see cref="Rules"/>); empty when the record is valid. Whether the preset exists
    /// and its sizes fit together the model library checks.
    /// </summary>
    public IReadOnlyList<TrainingConfigProblem> Problems()
    {
        var problems = new List<TrainingConfigProblem>();
        void Check(bool ok, string name, object? value)
        {
            if (!ok)
            {
                problems.Add(new TrainingConfigProblem(name, Rules[name], value));
            }
        }

        Check(!string.IsNullOrWhiteSpace(Preset) && Preset.Length <= 64 && Preset.Trim() == Preset, "preset", Quote(Preset));
        Check(InputSize is null or (>= 4 and <= 1024), "inputSize", InputSize);
        Check(Channels is null or 1 or 3, "channels", Channels);
        Check(PatchSize is null or (>= 1 and <= 32), "patchSize", PatchSize);
        Check(HiddenSize is null or (>= 4 and <= 8192), "hiddenSize", HiddenSize);
        Check(Depth is null or (>= 1 and <= 128), "depth", Depth);
        Check(NumHeads is null or (>= 1 and <= 128), "numHeads", NumHeads);
        Check(Enum.IsDefined(Objective), "objective", Objective);
        Check(BootstrapFraction is >= 0 and <= 1, "bootstrapFraction", BootstrapFraction);
        Check(Enum.IsDefined(BootstrapSource), "bootstrapSource", BootstrapSource);
        Check(BootstrapCfgScale is null or (>= 0 and <= 100), "bootstrapCfgScale", BootstrapCfgScale);
        Check(LabelDropout is >= 0 and <= 1, "labelDropout", LabelDropout);
        Check(TargetClip is > 0 and <= 1000, "targetClip", TargetClip);
        Check(BatchSize is >= 1 and <= MaxBatchSize, "batchSize", BatchSize);
        Check(LearningRate is > 0 and <= 1, "learningRate", LearningRate);
        Check(WeightDecay is >= 0 and <= 10, "weightDecay", WeightDecay);
        Check(EmaDecay is >= 0 and < 1, "emaDecay", EmaDecay);
        Check(Seed >= 0, "seed", Seed);
        return problems;
    }

    /// <summary>Throws when <see cref="Problems"/> finds any.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message lists every problem.</exception>
    public void Validate()
    {
        IReadOnlyList<TrainingConfigProblem> problems = Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }
    }

    private static string Quote(string? text) => text is null ? "null" : "\"" + text + "\"";
}

/// <summary>A <see cref="TrainingConfig"/> value out of range: the property's JSON name, its rule and the value.</summary>
public sealed record TrainingConfigProblem(string Property, string Rule, object? Value)
{
    /// <summary>The problem as a sentence that starts with the JSON path.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"$.{Property} must be {Rule}; got {Value}.");
}

/// <summary>
/// The JSON Schema of a training request (<c>training-request.schema.json</c>, embedded in this assembly): the run's own
/// properties and every <see cref="TrainingConfig"/> property, with the words of each rule (<c>x-rule</c>). The
/// pipeline checks requests against it; <see cref="TrainingConfig.Problems"/> checks the same ranges for values that
/// do not come as JSON (the CLI's flags).
/// </summary>
public static class TrainingRequestSchema
{
    private const string ResourceName = "ShortcutPipeline.Contracts.training-request.schema.json";

    /// <summary>The schema text.</summary>
    public static string Text { get; } = ReadText();

    internal static Dictionary<string, string> RulesOf(IEnumerable<string> names)
    {
        JsonNode properties = JsonNode.Parse(Text)!["properties"]!;
        return names.ToDictionary(name => name, name => properties[name]?["x-rule"]?.GetValue<string>()
            ?? throw new InvalidOperationException($"The training request schema has no rule for {name}."));
    }

    private static string ReadText()
    {
        using Stream stream = typeof(TrainingRequestSchema).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
