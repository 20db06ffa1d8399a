using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Core.Training;

/// <summary>
/// Reads a training request (plain JSON, or base64 of it) and checks its shape and ranges, collecting every
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

    /// <summary>The largest batch size.</summary>
    public const int MaxBatchSize = 4096;

    /// <summary>A run id that would collide with the registry's <c>{model}/versions/</c> folder.</summary>
    public const string ReservedRunId = "versions";

    internal static readonly string[] RootProperties =
    [
        "runId", "model", "preset", "inputSize", "channels", "patchSize", "hiddenSize", "depth", "numHeads", "dataset",
        "datasetLimit", "steps", "batchSize", "objective", "learningRate", "seed", "checkpointEvery", "promotion",
    ];

    internal static readonly string[] PromotionProperties = ["budget", "maxFrechetDistance", "samples", "classifierSteps"];

    private const string RunIdRule = "1 to 40 letters, digits, '_' or '-', starting and ending with a letter or digit (and not \"versions\")";

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
        TrainingRequest? request = reasons.Count > 0 ? null : new TrainingRequest
        {
            RunId = runId,
            Model = draft.Model!,
            Preset = draft.Preset!,
            InputSize = draft.InputSize,
            Channels = draft.Channels,
            PatchSize = draft.PatchSize,
            HiddenSize = draft.HiddenSize,
            Depth = draft.Depth,
            NumHeads = draft.NumHeads,
            Dataset = draft.Dataset!,
            DatasetLimit = draft.DatasetLimit,
            Steps = draft.Steps,
            BatchSize = draft.BatchSize ?? 64,
            Objective = draft.Objective,
            LearningRate = draft.LearningRate ?? 1e-4,
            Seed = draft.Seed ?? 0,
            CheckpointEvery = draft.CheckpointEvery ?? 1000,
            Promotion = draft.Promotion,
        };
        return new TrainingRequestReadResult(runId, request, reasons.ToList(), contentHash, draft.Model) { HasOwnRunId = draft.RunId is not null };
    }

    private static void ReadRoot(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            reasons.Add($"The message must be a JSON object (a training request); got {JobText.Describe(root)}.");
            return;
        }

        JsonMessage.CheckKnownProperties(root, "$", RootProperties, reasons);
        draft.RunId = JsonMessage.ReadString(root, "$.runId", "runId", required: false, IsValidRunId, RunIdRule, reasons);
        draft.Model = JsonMessage.ReadString(root, "$.model", "model", required: true, GenerationJobReader.IsValidModelName, GenerationJobReader.ModelNameRule, reasons);
        draft.Preset = JsonMessage.ReadString(root, "$.preset", "preset", required: true, p => p.Length is >= 1 and <= 64 && p.Trim() == p,
            "a preset name such as \"DiT-Small/4\" (at most 64 characters)", reasons);
        draft.InputSize = ReadInt(root, "$.inputSize", "inputSize", 4, 1024, reasons);
        if (JsonMessage.TryGetPresent(root, "channels", out JsonElement channels))
        {
            if (channels.ValueKind == JsonValueKind.Number && channels.TryGetInt32(out int count) && count is 1 or 3)
            {
                draft.Channels = count;
            }
            else
            {
                reasons.Add($"$.channels must be 1 (grayscale) or 3 (RGB); got {JobText.Describe(channels)}.");
            }
        }

        draft.PatchSize = ReadInt(root, "$.patchSize", "patchSize", 1, 32, reasons);
        draft.HiddenSize = ReadInt(root, "$.hiddenSize", "hiddenSize", 4, 8192, reasons);
        draft.Depth = ReadInt(root, "$.depth", "depth", 1, 128, reasons);
        draft.NumHeads = ReadInt(root, "$.numHeads", "numHeads", 1, 128, reasons);
        draft.Dataset = JsonMessage.ReadString(root, "$.dataset", "dataset", required: true, IsValidDatasetSpec,
            "\"fashion-mnist\", \"fashion-mnist:DIR\", a folder path, or \"blob:PREFIX\" (a relative prefix in the datasets container, without \"..\"), at most 1024 characters",
            reasons);
        draft.DatasetLimit = ReadInt(root, "$.datasetLimit", "datasetLimit", 1, int.MaxValue, reasons);
        draft.Steps = ReadLong(root, "$.steps", "steps", 1, MaxSteps, reasons, required: true) ?? 0;
        draft.BatchSize = ReadInt(root, "$.batchSize", "batchSize", 1, MaxBatchSize, reasons);
        ReadObjective(root, draft, reasons);
        draft.LearningRate = JsonMessage.ReadNumber(root, "$.learningRate", "learningRate", "a number above 0 and at most 1", v => v > 0 && v <= 1, reasons);
        draft.Seed = ReadLong(root, "$.seed", "seed", 0, long.MaxValue, reasons);
        draft.CheckpointEvery = ReadInt(root, "$.checkpointEvery", "checkpointEvery", 1, (int)Math.Min(MaxSteps, int.MaxValue), reasons);
        ReadPromotion(root, draft, reasons);
    }

    private static void ReadObjective(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (!JsonMessage.TryGetPresent(root, "objective", out JsonElement objective))
        {
            return;
        }

        switch (objective.ValueKind == JsonValueKind.String ? objective.GetString() : null)
        {
            case "shortcut": draft.Objective = TrainingObjectiveKind.Shortcut; break;
            case "flowMatching" or "flow-matching": draft.Objective = TrainingObjectiveKind.FlowMatching; break;
            default:
                reasons.Add($"$.objective must be \"shortcut\" or \"flowMatching\"; got {JobText.Describe(objective)}.");
                break;
        }
    }

    private static void ReadPromotion(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (!JsonMessage.TryGetPresent(root, "promotion", out JsonElement promotion))
        {
            return;
        }

        if (promotion.ValueKind != JsonValueKind.Object)
        {
            reasons.Add($"$.promotion must be an object such as {{ \"budget\": 1, \"maxFrechetDistance\": 50 }}, or absent to promote the final checkpoint; got {JobText.Describe(promotion)}.");
            return;
        }

        int before = reasons.Count;
        JsonMessage.CheckKnownProperties(promotion, "$.promotion", PromotionProperties, reasons);
        int? budget = ReadInt(promotion, "$.promotion.budget", "budget", 1, GenerationJobLimits.MaxSteps, reasons, required: true);
        if (budget is int b && !int.IsPow2(b))
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"$.promotion.budget must be a power of two from 1 to 128; got the number {b}."));
        }

        double? distance = JsonMessage.ReadNumber(promotion, "$.promotion.maxFrechetDistance", "maxFrechetDistance", "a number above 0",
            v => v > 0, reasons, required: true);
        int? samples = ReadInt(promotion, "$.promotion.samples", "samples", 10, 100_000, reasons);
        int? classifierSteps = ReadInt(promotion, "$.promotion.classifierSteps", "classifierSteps", 1, 1_000_000, reasons);
        if (reasons.Count == before)
        {
            draft.Promotion = new PromotionPolicy
            {
                Budget = budget!.Value,
                MaxFrechetDistance = distance!.Value,
                Samples = samples ?? 500,
                ClassifierSteps = classifierSteps ?? 1000,
            };
        }
    }

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

    private static int? ReadInt(JsonElement element, string path, string name, int min, int max, ReasonList reasons, bool required = false) =>
        (int?)ReadLong(element, path, name, min, max, reasons, required);

    private static long? ReadLong(JsonElement element, string path, string name, long min, long max, ReasonList reasons, bool required = false)
    {
        string rule = string.Create(CultureInfo.InvariantCulture, $"a whole number from {min} to {max}");
        if (!JsonMessage.TryGetPresent(element, name, out JsonElement value))
        {
            if (required)
            {
                reasons.Add($"{path} is required: {rule}.");
            }

            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long number) && number >= min && number <= max)
        {
            return number;
        }

        reasons.Add($"{path} must be {rule}; got {JobText.Describe(value)}.");
        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38}[A-Za-z0-9])?$")]
    private static partial Regex RunIdPattern();

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex NotRunIdCharacter();

    private sealed class Draft
    {
        public string? RunId { get; set; }
        public string? Model { get; set; }
        public string? Preset { get; set; }
        public int? InputSize { get; set; }
        public int? Channels { get; set; }
        public int? PatchSize { get; set; }
        public int? HiddenSize { get; set; }
        public int? Depth { get; set; }
        public int? NumHeads { get; set; }
        public string? Dataset { get; set; }
        public int? DatasetLimit { get; set; }
        public long Steps { get; set; }
        public int? BatchSize { get; set; }
        public TrainingObjectiveKind Objective { get; set; } = TrainingObjectiveKind.Shortcut;
        public double? LearningRate { get; set; }
        public long? Seed { get; set; }
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
