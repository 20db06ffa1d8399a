using System.Buffers;
using System.Text;
using System.Text.Json;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// What the readers of queue messages share (the generation job and the training request readers): parsing a
/// message that is plain JSON or base64 of it, hashing JSON, the checks of present and unknown properties, and the
/// reading of string and number properties with their reasons.
/// </summary>
internal static class JsonMessage
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        MaxDepth = 32,
        AllowDuplicateProperties = false,
    };

    /// <summary>SHA-256 (lowercase hex) of the JSON re-written compactly, so plain and base64 forms (and whitespace) of one message agree.</summary>
    public static string HashOf(JsonElement root)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            root.WriteTo(writer);
        }

        return GenerationJobReader.HashOf(buffer.WrittenSpan);
    }

    /// <summary>The message as a JSON document (its text, or the text its base64 decodes to); null, with a reason added, when it is neither.</summary>
    public static JsonDocument? Parse(string message, ReasonList reasons, out bool wasBase64)
    {
        wasBase64 = false;
        string? jsonError = TryParse(message, out JsonDocument? document);
        if (document is not null)
        {
            return document;
        }

        string trimmed = message.Trim();
        byte[] decoded = new byte[trimmed.Length];
        if (trimmed.Length % 4 == 0 && Convert.TryFromBase64String(trimmed, decoded, out int length))
        {
            string? decodedText = TryDecodeUtf8(decoded.AsSpan(0, length));
            if (decodedText is null)
            {
                reasons.Add($"The message is neither JSON ({jsonError}) nor base64 of JSON (it decodes to {length} bytes that are not UTF-8 text).");
                return null;
            }

            string? decodedError = TryParse(decodedText, out document);
            if (document is not null)
            {
                wasBase64 = true;
                return document;
            }

            reasons.Add($"The message is neither JSON ({jsonError}) nor base64 of JSON (its base64 decodes to text that is not JSON: {decodedError}).");
            return null;
        }

        reasons.Add($"The message is not valid JSON: {jsonError}");
        return null;
    }

    /// <summary>A property that is there and not null: optional properties may be null, which means "absent".</summary>
    public static bool TryGetPresent(JsonElement element, string name, out JsonElement value) =>
        element.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>Adds a reason for every property of <paramref name="element"/> that is not in <paramref name="known"/>.</summary>
    public static void CheckKnownProperties(JsonElement element, string path, string[] known, ReasonList reasons)
    {
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (Array.IndexOf(known, property.Name) >= 0)
            {
                continue;
            }

            string? sameButCase = Array.Find(known, k => string.Equals(k, property.Name, StringComparison.OrdinalIgnoreCase));
            string hint = sameButCase is not null
                ? $"did you mean \"{sameButCase}\"? Names are case-sensitive"
                : "allowed here: " + string.Join(", ", known);
            reasons.Add($"{path}.{JobText.Truncate(property.Name)} is not a known property ({hint}).");
        }
    }

    /// <summary>
    /// The string property <paramref name="name"/> of <paramref name="element"/> (at <paramref name="path"/>) when
    /// <paramref name="isValid"/> accepts it; otherwise null, with a reason that states <paramref name="rule"/>
    /// (when it is present, or <paramref name="required"/> and absent).
    /// </summary>
    public static string? ReadString(
        JsonElement element, string path, string name, bool required, Func<string, bool> isValid, string rule, ReasonList reasons)
    {
        if (!TryGetPresent(element, name, out JsonElement value))
        {
            if (required)
            {
                reasons.Add($"{path} is required: {rule}.");
            }

            return null;
        }

        if (value.ValueKind == JsonValueKind.String && isValid(value.GetString()!))
        {
            return value.GetString();
        }

        reasons.Add($"{path} must be {rule}; got {JobText.Describe(value)}.");
        return null;
    }

    /// <summary>
    /// The finite number property <paramref name="name"/> of <paramref name="element"/> (at <paramref name="path"/>)
    /// when <paramref name="isValid"/> accepts it; otherwise null, with a reason that states <paramref name="rule"/>
    /// (when it is present, or <paramref name="required"/> and absent).
    /// </summary>
    public static double? ReadNumber(
        JsonElement element, string path, string name, string rule, Func<double, bool> isValid, ReasonList reasons, bool required = false)
    {
        if (!TryGetPresent(element, name, out JsonElement value))
        {
            if (required)
            {
                reasons.Add($"{path} is required: {rule}.");
            }

            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double number) && double.IsFinite(number) && isValid(number))
        {
            return number;
        }

        reasons.Add($"{path} must be {rule}; got {JobText.Describe(value)}.");
        return null;
    }

    private static string? TryParse(string text, out JsonDocument? document)
    {
        try
        {
            document = JsonDocument.Parse(text, DocumentOptions);
            return null;
        }
        catch (JsonException exception)
        {
            document = null;
            return exception.Message;
        }
    }

    private static string? TryDecodeUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
