using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// Reads a job message as users send it (plain JSON text, or base64 of it, since queue clients differ) and
/// checks it against the contract of <c>generation-job.schema.json</c>, collecting every problem as a
/// sentence that names the JSON path. It never throws for bad input. The checks that need storage or the
/// clock (model registry, deadline in the future) are <see cref="Jobs.JobIntake"/>'s.
/// </summary>
public sealed partial class GenerationJobReader
{
    internal static readonly string[] RootProperties =
        ["id", "model", "classes", "items", "steps", "cfgScale", "seed", "priority", "deadline", "callbackUrl"];

    internal static readonly string[] ModelProperties = ["name", "version"];
    internal static readonly string[] ClassProperties = ["label", "count"];
    internal static readonly string[] ItemProperties = ["label", "seed"];

    private const string IdRule = "a string of 1 to 64 characters from A-Z, a-z, 0-9, '_' and '-'";
    private const string ClassShape = "{ \"label\": ..., \"count\": ... }";
    private const string ItemShape = "{ \"label\": ..., \"seed\": ... }";

    private readonly GenerationJobLimits limits;

    /// <summary>A reader that applies <paramref name="limits"/>.</summary>
    public GenerationJobReader(GenerationJobLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        this.limits = limits;
    }

    /// <summary>True when <paramref name="id"/> is a valid job id (<c>[A-Za-z0-9_-]{1,64}</c>).</summary>
    public static bool IsValidJobId(string? id) => id is not null && IdPattern().IsMatch(id);

    /// <summary>What <see cref="IsValidModelName"/> accepts, in words, for rejection reasons and errors.</summary>
    internal const string ModelNameRule = "1 to 64 letters, digits, '.', '_' or '-', starting and ending with a letter or digit";

    /// <summary>True when <paramref name="name"/> is a valid model name or version.</summary>
    public static bool IsValidModelName(string? name) => name is not null && ModelNamePattern().IsMatch(name);

    /// <summary>
    /// Reads <paramref name="message"/>. The job id is the client's when it gives a valid one; otherwise it is
    /// derived deterministically, from <paramref name="messageId"/> when given (<c>msg-{messageId}</c>) or
    /// else from the content hash (<c>sha-{hash}</c>), so a redelivered message maps to the same job.
    /// An absent seed is derived from the job id (see <see cref="DeriveSeed"/>).
    /// </summary>
    public JobReadResult Read(string? message, string? messageId = null)
    {
        message ??= "";
        return Read(message, Encoding.UTF8.GetBytes(message), new ReasonList(), messageId);
    }

    /// <summary>
    /// Reads a message given as its bytes (an HTTP body), which must be UTF-8: bytes that are not are a reason of
    /// their own (the rest is read with U+FFFD in their place). Otherwise as <see cref="Read(string?, string?)"/>.
    /// </summary>
    public JobReadResult Read(ReadOnlySpan<byte> utf8Message, string? messageId = null)
    {
        var reasons = new ReasonList();
        string message = JsonMessage.DecodeUtf8(utf8Message, reasons);
        return Read(message, utf8Message, reasons, messageId);
    }

    private JobReadResult Read(string message, ReadOnlySpan<byte> messageBytes, ReasonList reasons, string? messageId)
    {
        var draft = new Draft();
        int byteCount = messageBytes.Length;
        string contentHash = HashOf(messageBytes);
        bool wasBase64 = false;

        if (string.IsNullOrWhiteSpace(message))
        {
            reasons.Add("The message is empty: send a generation job as a JSON object (or base64 of one).");
        }
        else
        {
            if (byteCount > limits.MaxMessageBytes)
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture,
                    $"The message is {byteCount} bytes; the limit is {limits.MaxMessageBytes} bytes."));
            }

            // Past a few times the limit, do not even parse: the size alone decides.
            if (byteCount <= Math.Max(4L * limits.MaxMessageBytes, 1 << 20))
            {
                using JsonDocument? document = JsonMessage.Parse(message, reasons, out wasBase64);
                if (document is not null && JsonMessage.CheckText(document.RootElement, "$", reasons))
                {
                    contentHash = JsonMessage.HashOf(document.RootElement);
                    ValidateRoot(document.RootElement, draft, reasons);
                }
                else if (document is not null)
                {
                    // Text that is not Unicode cannot be read: only a valid id is taken, so the rejection lands under it.
                    draft.ClientId = JsonMessage.ReadValidTextOrNull(document.RootElement, "id", IsValidJobId);
                }
            }
        }

        string jobId = draft.ClientId ?? DeriveJobId(messageId, contentHash);
        long seed = draft.Seed ?? DeriveSeed(jobId);
        GenerationJob? job = null;
        if (reasons.Count == 0)
        {
            job = new GenerationJob
            {
                Id = jobId,
                Model = draft.Model!,
                Classes = draft.Classes,
                Items = draft.Items,
                Steps = draft.Steps,
                CfgScale = draft.CfgScale,
                Seed = seed,
                Priority = draft.Priority,
                Deadline = draft.Deadline,
                CallbackUrl = draft.CallbackUrl,
            };
        }

        return new JobReadResult(reasons)
        {
            JobId = jobId,
            IdFromClient = draft.ClientId is not null,
            Job = job,
            ContentHash = contentHash,
            WasBase64 = wasBase64,
            MessageBytes = byteCount,
            Model = draft.Model,
            Labels = draft.Labels,
            Deadline = draft.Deadline,
            CallbackUrl = draft.CallbackUrl,
        };
    }

    /// <summary>
    /// The job id used when the client gives none: <c>msg-{messageId}</c> (characters outside
    /// <c>[A-Za-z0-9_-]</c> become '-'; a long message id is hashed) or <c>sha-{first 32 hex digits of the content hash}</c>.
    /// </summary>
    public static string DeriveJobId(string? messageId, string contentHash)
    {
        ArgumentException.ThrowIfNullOrEmpty(contentHash);
        if (!string.IsNullOrWhiteSpace(messageId))
        {
            string sanitized = NotIdCharacter().Replace(messageId.Trim(), "-");
            return sanitized.Length <= GenerationJobLimits.MaxIdLength - 4
                ? "msg-" + sanitized
                : "msg-" + HashOf(Encoding.UTF8.GetBytes(messageId))[..32];
        }

        return "sha-" + contentHash[..Math.Min(32, contentHash.Length)];
    }

    /// <summary>The seed of a job that gives none: the first 8 bytes of SHA-256(UTF-8 job id), little-endian, as a non-negative int64.</summary>
    public static long DeriveSeed(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(jobId));
        return BinaryPrimitives.ReadInt64LittleEndian(hash) & long.MaxValue;
    }

    internal static string HashOf(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private void ValidateRoot(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            reasons.Add($"The message must be a JSON object (a generation job); got {JobText.Describe(root)}.");
            return;
        }

        JsonMessage.CheckKnownProperties(root, "$", RootProperties, reasons);
        draft.ClientId = JsonMessage.ReadString(root, "$.id", "id", required: false, IsValidJobId, IdRule, reasons);
        ReadModel(root, draft, reasons);

        bool hasClasses = JsonMessage.TryGetPresent(root, "classes", out JsonElement classes);
        bool hasItems = JsonMessage.TryGetPresent(root, "items", out JsonElement items);
        if (hasClasses && hasItems)
        {
            reasons.Add("The job has both $.classes and $.items; give exactly one of them.");
        }
        else if (!hasClasses && !hasItems)
        {
            reasons.Add("The job has neither $.classes nor $.items; give exactly one of them, for example \"classes\": [{ \"label\": 3, \"count\": 4 }].");
        }

        if (hasClasses)
        {
            ReadClasses(classes, draft, reasons);
        }

        if (hasItems)
        {
            ReadItems(items, draft, reasons);
        }

        ReadSteps(root, draft, reasons);
        draft.CfgScale = JsonMessage.ReadNumber(root, "$.cfgScale", "cfgScale", "a number from 0 to 20 (1: no guidance)",
            v => v >= 0 && v <= GenerationJobLimits.MaxCfgScale, reasons) ?? draft.CfgScale;
        if (JsonMessage.TryGetPresent(root, "seed", out JsonElement seed))
        {
            draft.Seed = ReadSeed(seed, "$.seed", reasons);
        }

        ReadPriority(root, draft, reasons);
        ReadDeadline(root, draft, reasons);
        ReadCallbackUrl(root, draft, reasons);
    }

    private static void ReadModel(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (!JsonMessage.TryGetPresent(root, "model", out JsonElement model))
        {
            reasons.Add("$.model is required: an object such as { \"name\": \"fashion\" } or { \"name\": \"fashion\", \"version\": \"v3\" }.");
            return;
        }

        if (model.ValueKind != JsonValueKind.Object)
        {
            reasons.Add($"$.model must be an object with a \"name\" and an optional \"version\"; got {JobText.Describe(model)}.");
            return;
        }

        JsonMessage.CheckKnownProperties(model, "$.model", ModelProperties, reasons);
        string? name = null;
        if (!JsonMessage.TryGetPresent(model, "name", out JsonElement nameElement))
        {
            reasons.Add("$.model.name is required: the name of a registered model.");
        }
        else if (nameElement.ValueKind != JsonValueKind.String || !IsValidModelName(nameElement.GetString()))
        {
            reasons.Add($"$.model.name must be {ModelNameRule}; got {JobText.Describe(nameElement)}.");
        }
        else
        {
            name = nameElement.GetString();
        }

        string? version = null;
        bool versionValid = true;
        if (JsonMessage.TryGetPresent(model, "version", out JsonElement versionElement))
        {
            if (versionElement.ValueKind == JsonValueKind.String && IsValidModelName(versionElement.GetString()))
            {
                version = versionElement.GetString();
            }
            else
            {
                versionValid = false;
                reasons.Add($"$.model.version must be {ModelNameRule}, or absent for the latest version; got {JobText.Describe(versionElement)}.");
            }
        }

        if (name is not null && versionValid)
        {
            draft.Model = new ModelReference(name, version);
        }
    }

    private void ReadClasses(JsonElement classes, Draft draft, ReasonList reasons)
    {
        var requests = new List<ClassRequest>();
        long total = 0;
        foreach ((JsonElement entry, string path) in ObjectEntries(classes, "$.classes", ClassShape, ClassProperties, reasons))
        {
            bool labelValid = TryReadLabel(entry, path, draft, reasons, out int? label);
            if (!JsonMessage.TryGetPresent(entry, "count", out JsonElement countElement))
            {
                reasons.Add($"{path}.count is required: how many images of this class (at least 1).");
            }
            else if (countElement.ValueKind == JsonValueKind.Number && countElement.TryGetInt32(out int count)
                && count >= 1 && count <= limits.MaxImagesPerJob)
            {
                total += count;
                if (labelValid)
                {
                    requests.Add(new ClassRequest(label, count));
                }
            }
            else
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{path}.count must be an integer from 1 to {limits.MaxImagesPerJob}; got {JobText.Describe(countElement)}."));
            }
        }

        if (total > limits.MaxImagesPerJob)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"The job asks for {total} images in all (the counts of $.classes add up to {total}); the limit is {limits.MaxImagesPerJob} images per job."));
        }

        draft.Classes = requests;
    }

    private void ReadItems(JsonElement items, Draft draft, ReasonList reasons)
    {
        if (items.ValueKind == JsonValueKind.Array && items.GetArrayLength() > limits.MaxImagesPerJob)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"$.items lists {items.GetArrayLength()} images; the limit is {limits.MaxImagesPerJob} images per job."));
        }

        var requests = new List<ItemRequest>();
        foreach ((JsonElement entry, string path) in ObjectEntries(items, "$.items", ItemShape, ItemProperties, reasons))
        {
            bool labelValid = TryReadLabel(entry, path, draft, reasons, out int? label);
            long? seed = null;
            bool seedValid = true;
            if (JsonMessage.TryGetPresent(entry, "seed", out JsonElement seedElement))
            {
                seed = ReadSeed(seedElement, path + ".seed", reasons);
                seedValid = seed is not null;
            }

            if (labelValid && seedValid)
            {
                requests.Add(new ItemRequest(label, seed));
            }
        }

        draft.Items = requests;
    }

    // The entries of a non-empty array of objects, with their paths. Reports a value that is no such array,
    // entries that are not objects (skipped) and unknown properties of the others.
    private static IEnumerable<(JsonElement Entry, string Path)> ObjectEntries(
        JsonElement array, string path, string shape, string[] known, ReasonList reasons)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            reasons.Add($"{path} must be an array of {shape} objects; got {JobText.Describe(array)}.");
            yield break;
        }

        if (array.GetArrayLength() == 0)
        {
            reasons.Add($"{path} must not be empty.");
            yield break;
        }

        int index = 0;
        foreach (JsonElement entry in array.EnumerateArray())
        {
            string entryPath = string.Create(CultureInfo.InvariantCulture, $"{path}[{index++}]");
            if (entry.ValueKind != JsonValueKind.Object)
            {
                reasons.Add($"{entryPath} must be an object {shape}; got {JobText.Describe(entry)}.");
                continue;
            }

            JsonMessage.CheckKnownProperties(entry, entryPath, known, reasons);
            yield return (entry, entryPath);
        }
    }

    private static bool TryReadLabel(JsonElement entry, string path, Draft draft, ReasonList reasons, out int? label)
    {
        label = null;
        if (!JsonMessage.TryGetPresent(entry, "label", out JsonElement element))
        {
            return true;
        }

        if (element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out int value) && value >= 0)
        {
            label = value;
            draft.Labels.Add(new LabelUse(path + ".label", value));
            return true;
        }

        reasons.Add($"{path}.label must be a class index (an integer, 0 or more), or null for an unconditional image; got {JobText.Describe(element)}.");
        return false;
    }

    private static long? ReadSeed(JsonElement element, string path, ReasonList reasons)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out long value) && value >= 0)
        {
            return value;
        }

        reasons.Add($"{path} must be an integer from 0 to {long.MaxValue.ToString(CultureInfo.InvariantCulture)}; got {JobText.Describe(element)}.");
        return null;
    }

    private static void ReadSteps(JsonElement root, Draft draft, ReasonList reasons)
    {
        const string rule = "a power of two from 1 to 128 (1, 2, 4, 8, 16, 32, 64 or 128)";
        if (!JsonMessage.TryGetPresent(root, "steps", out JsonElement steps))
        {
            reasons.Add($"$.steps is required: the number of sampling steps, {rule}.");
        }
        else if (steps.ValueKind == JsonValueKind.Number && steps.TryGetInt32(out int value)
            && value >= 1 && value <= GenerationJobLimits.MaxSteps && int.IsPow2(value))
        {
            draft.Steps = value;
        }
        else
        {
            reasons.Add($"$.steps must be {rule}; got {JobText.Describe(steps)}.");
        }
    }

    private static void ReadPriority(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (!JsonMessage.TryGetPresent(root, "priority", out JsonElement priority))
        {
            return;
        }

        switch (priority.ValueKind == JsonValueKind.String ? priority.GetString() : null)
        {
            case "low": draft.Priority = JobPriority.Low; break;
            case "normal": draft.Priority = JobPriority.Normal; break;
            case "high": draft.Priority = JobPriority.High; break;
            default:
                reasons.Add($"$.priority must be \"low\", \"normal\" or \"high\"; got {JobText.Describe(priority)}.");
                break;
        }
    }

    private static void ReadDeadline(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (!JsonMessage.TryGetPresent(root, "deadline", out JsonElement deadline))
        {
            return;
        }

        string? text = deadline.ValueKind == JsonValueKind.String ? deadline.GetString() : null;
        if (text is not null && DateTimePattern().IsMatch(text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out DateTimeOffset value))
        {
            draft.Deadline = value.ToUniversalTime();
        }
        else
        {
            reasons.Add($"$.deadline must be an ISO-8601 date-time with a time zone, such as \"2030-01-01T12:00:00Z\"; got {JobText.Describe(deadline)}.");
        }
    }

    private static void ReadCallbackUrl(JsonElement root, Draft draft, ReasonList reasons)
    {
        if (!JsonMessage.TryGetPresent(root, "callbackUrl", out JsonElement callback))
        {
            return;
        }

        string? text = callback.ValueKind == JsonValueKind.String ? callback.GetString() : null;
        if (text is not null && text.Length <= 2048
            && Uri.TryCreate(text, UriKind.Absolute, out Uri? uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && !string.IsNullOrEmpty(uri.Host))
        {
            draft.CallbackUrl = uri;
        }
        else
        {
            reasons.Add($"$.callbackUrl must be an absolute http or https URL (at most 2048 characters); got {JobText.Describe(callback)}.");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex NotIdCharacter();

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")]
    private static partial Regex ModelNamePattern();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?([Zz]|[+-]\d{2}:\d{2})$")]
    private static partial Regex DateTimePattern();

    private sealed class Draft
    {
        public string? ClientId { get; set; }
        public ModelReference? Model { get; set; }
        public List<ClassRequest>? Classes { get; set; }
        public List<ItemRequest>? Items { get; set; }
        public List<LabelUse> Labels { get; } = [];
        public int Steps { get; set; }
        public double CfgScale { get; set; } = 1;
        public long? Seed { get; set; }
        public JobPriority Priority { get; set; } = JobPriority.Normal;
        public DateTimeOffset? Deadline { get; set; }
        public Uri? CallbackUrl { get; set; }
    }
}

/// <summary>A class label used by a job, with its JSON path (checked against the model's class count at intake).</summary>
internal readonly record struct LabelUse(string Path, int Label);

/// <summary>What <see cref="GenerationJobReader.Read(string?, string?)"/> found in a message.</summary>
public sealed class JobReadResult
{
    internal JobReadResult(ReasonList reasons) => ReasonList = reasons;

    /// <summary>The job id: the client's when valid, else derived (see <see cref="GenerationJobReader.DeriveJobId"/>).</summary>
    public required string JobId { get; init; }

    /// <summary>True when <see cref="JobId"/> is the client's own.</summary>
    public bool IdFromClient { get; init; }

    /// <summary>The job, or null when the message breaks the contract (then <see cref="Reasons"/> says why).</summary>
    public GenerationJob? Job { get; init; }

    /// <summary>Every problem found, each a sentence naming the JSON path; empty when the message is a valid job.</summary>
    public IReadOnlyList<string> Reasons => ReasonList.ToList();

    /// <summary>SHA-256 (hex) of the job JSON in its canonical form (see JsonMessage.WriteCanonical; of the raw message when it is not JSON, or holds text that is not Unicode): equal for equal jobs, whatever their key order or spelling.</summary>
    public required string ContentHash { get; init; }

    /// <summary>True when the message was base64 of the JSON.</summary>
    public bool WasBase64 { get; init; }

    /// <summary>The message size in UTF-8 bytes.</summary>
    public int MessageBytes { get; init; }

    internal ReasonList ReasonList { get; }

    internal ModelReference? Model { get; init; }

    internal IReadOnlyList<LabelUse> Labels { get; init; } = [];

    internal DateTimeOffset? Deadline { get; init; }

    internal Uri? CallbackUrl { get; init; }
}
