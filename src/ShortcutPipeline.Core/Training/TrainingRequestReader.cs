using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using ShortcutPipeline.Contracts;

namespace ShortcutPipeline.Core.Training;

/// <summary>
/// Reads a training request (plain JSON, or base64 of it) and checks it against <c>training-request.schema.json</c>
/// (<see cref="TrainingRequestSchema"/>, with <see cref="ContractSchema"/>, in the schema's own words), collecting every
/// problem as a sentence that starts with the JSON path. It never throws for bad input. What Core cannot know
/// (whether the preset exists, whether the dataset is there) the trainer checks when the run starts.
/// </summary>
public sealed partial class TrainingRequestReader
{
    /// <summary>The largest request message, in UTF-8 bytes.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    /// <summary>The longest run id.</summary>
    public const int MaxRunIdLength = 40;

    /// <summary>The most training steps a request may ask for.</summary>
    public const long MaxSteps = 100_000_000;

    /// <summary>A run id that would collide with the registry's <c>{model}/versions/</c> folder.</summary>
    public const string ReservedRunId = "versions";

    /// <summary>
    /// Every <see cref="TrainingConfig"/> property a request may set, by JSON name: all of them, read by
    /// <see cref="ReadTrainingConfig"/> from the property's type and checked by <see cref="TrainingConfig.Problems"/>.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, PropertyInfo> TrainingConfigProperties = typeof(TrainingConfig)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
        .ToDictionary(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name));

    private static readonly ContractSchema Schema = ContractSchema.Load(TrainingRequestSchema.Text);

    private readonly TimeProvider time;

    /// <summary>A reader; <paramref name="time"/> stamps generated run ids.</summary>
    public TrainingRequestReader(TimeProvider? time = null) => this.time = time ?? TimeProvider.System;

    /// <summary>True when <paramref name="runId"/> is a valid run id.</summary>
    public static bool IsValidRunId(string? runId) =>
        runId is not null && RunIdPattern().IsMatch(runId) && !string.Equals(runId, ReservedRunId, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A new run id for <paramref name="model"/>: <c>{model, at most 16 characters}-{yyyyMMddHHmmss}-{4 hex digits}</c>.
    /// </summary>
    public static string NewRunId(string model, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(model);
        string stem = NotRunIdCharacter().Replace(model, "-");
        stem = stem[..Math.Min(16, stem.Length)].Trim('-', '_');
        string stamp = now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        string random = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()))[..4];
        return stem.Length == 0 ? $"run-{stamp}-{random}" : $"{stem}-{stamp}-{random}";
    }

    /// <summary>
    /// The run id of a rejected request that has no usable id of its own: <c>rejected-{first 24 characters of the
    /// content hash}</c>, so that the same content maps to the same rejection.
    /// </summary>
    public static string RejectedRunId(string contentHash)
    {
        ArgumentNullException.ThrowIfNull(contentHash);
        return "rejected-" + contentHash[..24];
    }

    /// <summary>
    /// Reads <paramref name="message"/>. The run id is the request's own when it has a valid one; otherwise
    /// <paramref name="defaultRunId"/> (the trainer passes one derived from the queue message id) or, when that is
    /// null, a new one from <see cref="NewRunId"/> (valid requests) or <c>rejected-{content hash}</c> (invalid ones).
    /// </summary>
    public TrainingRequestReadResult Read(string? message, string? defaultRunId = null)
    {
        message ??= "";
        var reasons = new ReasonList();
        var draft = new Draft();
        string contentHash = GenerationJobReader.HashOf(Encoding.UTF8.GetBytes(message));
        int bytes = Encoding.UTF8.GetByteCount(message);
        if (string.IsNullOrWhiteSpace(message))
        {
            reasons.Add("The message is empty: send a training request as a JSON object (or base64 of one).");
        }
        else if (bytes > MaxMessageBytes)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"The message is {bytes} bytes; the limit is {MaxMessageBytes} bytes."));
        }
        else
        {
            using JsonDocument? document = JsonMessage.Parse(message, reasons, out _);
            if (document is not null && JsonMessage.CheckText(document.RootElement, "$", reasons))
            {
                contentHash = JsonMessage.HashOf(document.RootElement);
                ReadRoot(document.RootElement, draft, reasons);
            }
        }

        string runId = draft.RunId ?? defaultRunId
            ?? (reasons.Count == 0 ? NewRunId(draft.Model!, time.GetUtcNow()) : RejectedRunId(contentHash));
        TrainingRequest? request = reasons.Count > 0 ? null
            : TrainingRequest.Create(draft.Training, runId, draft.Model!, draft.Dataset!, draft.Steps) with
            {
                DatasetLimit = draft.DatasetLimit,
                CheckpointEvery = draft.CheckpointEvery ?? 1000,
                Promotion = draft.Promotion,
            };
        return new TrainingRequestReadResult(runId, request, reasons.ToList(), contentHash, draft.Model) { HasOwnRunId = draft.RunId is not null };
    }

    // The schema pass (every rule the schema states, with its words), then the values that passed, then what a schema
    // cannot state: the run id "versions" in any case, and dataset specs that climb out of their container.
    private static void ReadRoot(JsonElement root, Draft draft, ReasonList reasons)
    {
        ContractFindings findings = Schema.Check(root, reasons);
        if (root.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        JsonElement? Clean(string name) =>
            JsonMessage.TryGetPresent(root, name, out JsonElement value) && findings.IsClean("/" + name) ? value : null;

        draft.RunId = Clean("runId")?.GetString();
        draft.Model = Clean("model")?.GetString();
        draft.Training = ReadTrainingConfig(root, findings, reasons);
        if (Clean("dataset") is { } dataset)
        {
            if (IsValidDatasetSpec(dataset.GetString()!))
            {
                draft.Dataset = dataset.GetString();
            }
            else
            {
                reasons.Add(Schema.Violation("/dataset", dataset));
            }
        }

        draft.DatasetLimit = (int?)Clean("datasetLimit")?.GetDecimal();
        draft.Steps = (long?)Clean("steps")?.GetDecimal() ?? 0;
        draft.CheckpointEvery = (int?)Clean("checkpointEvery")?.GetDecimal();
        if (Clean("promotion") is { } promotion)
        {
            draft.Promotion = new PromotionPolicy
            {
                Budget = (int)promotion.GetProperty("budget").GetDecimal(),
                MaxFrechetDistance = promotion.GetProperty("maxFrechetDistance").GetDouble(),
                Samples = JsonMessage.TryGetPresent(promotion, "samples", out JsonElement samples) ? (int)samples.GetDecimal() : 500,
                ClassifierSteps = JsonMessage.TryGetPresent(promotion, "classifierSteps", out JsonElement steps) ? (int)steps.GetDecimal() : 1000,
            };
        }
    }

    /// <summary>
    /// The training config of a request: each <see cref="TrainingConfig"/> property present in <paramref name="root"/>,
    /// read by its type (whole numbers, numbers, true/false, strings, enum names in camelCase; '-' and '_' and case
    /// are ignored in enum names, so "flow-matching" is "flowMatching"), then checked against its rule.
    /// </summary>
    internal static TrainingConfig ReadTrainingConfig(JsonElement root, ContractFindings findings, ReasonList reasons)
    {
        var config = new TrainingConfig();
        var present = new Dictionary<string, JsonElement>();
        foreach (var (name, property) in TrainingConfigProperties)
        {
            if (!JsonMessage.TryGetPresent(root, name, out JsonElement value) || !findings.IsClean("/" + name))
            {
                continue; // absent, or the schema pass has said why not
            }

            present[name] = value;
            Type type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (TryConvert(value, type, out object? converted))
            {
                property.SetValue(config, converted);
            }
            else
            {
                reasons.Add($"$.{name} must be {TrainingConfig.Rules.GetValueOrDefault(name, "a " + type.Name)}; got {JobText.Describe(value)}.");
                present.Remove(name);
            }
        }

        foreach (TrainingConfigProblem problem in config.Problems())
        {
            reasons.Add(present.TryGetValue(problem.Property, out JsonElement value)
                ? $"$.{problem.Property} must be {problem.Rule}; got {JobText.Describe(value)}."
                : problem.ToString());
        }

        return config;
    }

    private static bool TryConvert(JsonElement value, Type type, out object? converted)
    {
        converted = null;
        bool isWhole = value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out decimal number) && decimal.IsInteger(number);
        if (type == typeof(int) && isWhole && value.GetDecimal() is >= int.MinValue and <= int.MaxValue)
        {
            converted = (int)value.GetDecimal();
        }
        else if (type == typeof(long) && isWhole && value.GetDecimal() is >= long.MinValue and <= long.MaxValue)
        {
            converted = (long)value.GetDecimal();
        }
        else if (type == typeof(double) && value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double real) && double.IsFinite(real))
        {
            converted = real;
        }
        else if (type == typeof(bool) && value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            converted = value.GetBoolean();
        }
        else if (type == typeof(string) && value.ValueKind == JsonValueKind.String)
        {
            converted = value.GetString();
        }
        else if (type.IsEnum && value.ValueKind == JsonValueKind.String)
        {
            string wanted = EnumKey(value.GetString()!);
            converted = Enum.GetNames(type).Where(n => EnumKey(n) == wanted).Select(n => Enum.Parse(type, n)).FirstOrDefault();
        }

        return converted is not null;
    }

    private static string EnumKey(string name) => name.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToUpperInvariant();

    private static bool IsValidDatasetSpec(string spec)
    {
        if (spec.Length is 0 or > 1024 || spec.Trim() != spec || spec.Any(char.IsControl))
        {
            return false;
        }

        string? prefix = TrainingRequest.BlobPrefixOf(spec);
        return prefix is null
            || (prefix.Length > 0 && !spec[TrainingRequest.BlobDatasetPrefix.Length..].StartsWith('/')
                && !prefix.Contains('\\', StringComparison.Ordinal) && !prefix.Split('/').Contains(".."));
    }

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38}[A-Za-z0-9])?$")]
    private static partial Regex RunIdPattern();

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex NotRunIdCharacter();

    private sealed class Draft
    {
        public string? RunId { get; set; }
        public string? Model { get; set; }
        public TrainingConfig Training { get; set; } = new();
        public string? Dataset { get; set; }
        public int? DatasetLimit { get; set; }
        public long Steps { get; set; }
        public int? CheckpointEvery { get; set; }
        public PromotionPolicy? Promotion { get; set; }
    }
}

/// <summary>What <see cref="TrainingRequestReader.Read"/> found in a message.</summary>
/// <param name="RunId">The run id: the request's own when valid, else the default or a generated one (see <see cref="TrainingRequestReader.Read"/>).</param>
/// <param name="Request">The request, or null when the message breaks the contract.</param>
/// <param name="Reasons">Every problem found, each a sentence starting with the JSON path; empty when valid.</param>
/// <param name="ContentHash">SHA-256 (hex) of the JSON written compactly (of the raw text when it is not JSON).</param>
/// <param name="Model">The model name when the message has a valid one (also for invalid requests).</param>
public sealed record TrainingRequestReadResult(
    string RunId, TrainingRequest? Request, IReadOnlyList<string> Reasons, string ContentHash, string? Model)
{
    /// <summary>True when the message is a valid request.</summary>
    public bool IsValid => Request is not null;

    /// <summary>True when <see cref="RunId"/> is the message's own.</summary>
    public bool HasOwnRunId { get; init; }
}
