using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// Reads a job message as users send it (plain JSON text, or base64 of it, since queue clients differ) and
/// checks it against the contract of <c>generation-job.schema.json</c> (with <see cref="ContractSchema"/>, in the
/// schema's own words), collecting every problem as a sentence that names the JSON path. It never throws for bad input. The checks that need storage or the
/// clock (model registry, deadline in the future) are <see cref="Jobs.JobIntake"/>'s.
/// </summary>
public sealed partial class GenerationJobReader
{
    private readonly GenerationJobLimits limits;
    private readonly ContractSchema schema;

    /// <summary>A reader that applies <paramref name="limits"/>.</summary>
    public GenerationJobReader(GenerationJobLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        this.limits = limits;
        schema = GenerationJobSchema.For(limits);
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

    // The schema pass (every rule the schema states, with its words), then the values that passed, then the rules a
    // schema cannot state: the sum of the class counts, and dates and URLs that match their patterns but do not exist.
    private void ValidateRoot(JsonElement root, Draft draft, ReasonList reasons)
    {
        ContractFindings findings = schema.Check(root, reasons);
        if (root.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        string? Text(string name) => Clean(root, name, findings) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

        draft.ClientId = Text("id");
        if (Clean(root, "model", findings) is { } model)
        {
            draft.Model = new ModelReference(model.GetProperty("name").GetString()!,
                JsonMessage.TryGetPresent(model, "version", out JsonElement version) ? version.GetString() : null);
        }

        if (JsonMessage.TryGetPresent(root, "classes", out JsonElement classes) && classes.ValueKind == JsonValueKind.Array)
        {
            ReadClasses(classes, draft, findings, reasons);
        }

        if (JsonMessage.TryGetPresent(root, "items", out JsonElement items) && items.ValueKind == JsonValueKind.Array)
        {
            draft.Items = Entries(items, "/items", findings)
                .Select(entry => new ItemRequest(ReadLabel(entry.Value, entry.Pointer, draft, findings), WholeOrNull(entry.Value, "seed")))
                .ToList();
        }

        draft.Steps = Clean(root, "steps", findings) is { } steps ? (int)steps.GetDecimal() : 0;
        draft.CfgScale = Clean(root, "cfgScale", findings) is { } cfgScale ? cfgScale.GetDouble() : draft.CfgScale;
        draft.Seed = Clean(root, "seed", findings) is { } seed ? (long)seed.GetDecimal() : null;
        draft.Priority = Text("priority") switch
        {
            "low" => JobPriority.Low,
            "high" => JobPriority.High,
            _ => JobPriority.Normal,
        };

        if (Clean(root, "deadline", findings) is { } deadline)
        {
            if (DateTimeOffset.TryParse(deadline.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out DateTimeOffset value))
            {
                draft.Deadline = value.ToUniversalTime();
            }
            else
            {
                reasons.Add(schema.Violation("/deadline", deadline));
            }
        }

        if (Clean(root, "callbackUrl", findings) is { } callback)
        {
            if (Uri.TryCreate(callback.GetString(), UriKind.Absolute, out Uri? uri)
                && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && !string.IsNullOrEmpty(uri.Host))
            {
                draft.CallbackUrl = uri;
            }
            else
            {
                reasons.Add(schema.Violation("/callbackUrl", callback));
            }
        }
    }

    private void ReadClasses(JsonElement classes, Draft draft, ContractFindings findings, ReasonList reasons)
    {
        var requests = new List<ClassRequest>();
        long total = 0;
        foreach ((JsonElement entry, string pointer) in Entries(classes, "/classes", findings, whole: false))
        {
            int? label = ReadLabel(entry, pointer, draft, findings);
            if (findings.IsClean(pointer + "/count") && entry.TryGetProperty("count", out JsonElement count))
            {
                total += (long)count.GetDecimal();
                if (findings.IsClean(pointer))
                {
                    requests.Add(new ClassRequest(label, (int)count.GetDecimal()));
                }
            }
        }

        if (total > limits.MaxImagesPerJob)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"The job asks for {total} images in all (the counts of $.classes add up to {total}); the limit is {limits.MaxImagesPerJob} images per job."));
        }

        draft.Classes = requests;
    }

    // The object entries of an array with their pointers: those that passed the schema whole, or (whole: false) every
    // object, for the parts of it that passed.
    private static IEnumerable<(JsonElement Value, string Pointer)> Entries(JsonElement array, string pointer, ContractFindings findings, bool whole = true) =>
        array.EnumerateArray()
            .Select((entry, index) => (entry, string.Create(CultureInfo.InvariantCulture, $"{pointer}/{index}")))
            .Where(entry => entry.entry.ValueKind == JsonValueKind.Object && (!whole || findings.IsClean(entry.Item2)));

    private static int? ReadLabel(JsonElement entry, string pointer, Draft draft, ContractFindings findings)
    {
        if (!findings.IsClean(pointer + "/label") || !JsonMessage.TryGetPresent(entry, "label", out JsonElement element))
        {
            return null;
        }

        int label = (int)element.GetDecimal();
        draft.Labels.Add(new LabelUse(ContractSchema.PathOf(pointer) + ".label", label));
        return label;
    }

    private static long? WholeOrNull(JsonElement entry, string name) =>
        JsonMessage.TryGetPresent(entry, name, out JsonElement value) ? (long)value.GetDecimal() : null;

    // The property when it is there, not null, and passed the schema.
    private static JsonElement? Clean(JsonElement element, string name, ContractFindings findings) =>
        JsonMessage.TryGetPresent(element, name, out JsonElement value) && findings.IsClean("/" + name) ? value : null;

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("[^A-Za-z0-9_-]")]
    private static partial Regex NotIdCharacter();

    [GeneratedRegex("^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")]
    private static partial Regex ModelNamePattern();

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
