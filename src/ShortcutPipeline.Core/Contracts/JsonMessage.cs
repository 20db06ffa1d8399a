using System.Buffers;
using System.Numerics;
using System.Text.Unicode;

// Reading a queue message: parsing and the property reads with their reasons (JsonMessage), the text rules for what
// may stand in a job and how values are quoted in reasons and logs (JobText), and the list of reasons (ReasonList).

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

    /// <summary>
    /// SHA-256 (lowercase hex) of the JSON's canonical form (<see cref="WriteCanonical"/>), so that the plain and base64
    /// forms of one message agree, and so do its whitespace, key order, string escapes and spellings of a number.
    /// </summary>
    public static string HashOf(JsonElement root)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(root, writer);
        }

        return GenerationJobReader.HashOf(buffer.WrittenSpan);
    }

    /// <summary>
    /// Writes <paramref name="element"/> canonically: no whitespace, object properties sorted by name (ordinal),
    /// strings escaped one way, numbers as <see cref="CanonicalNumber"/>. Its text must be valid (see <see cref="CheckText"/>).
    /// </summary>
    public static void WriteCanonical(JsonElement element, Utf8JsonWriter writer)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (JsonProperty property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(property.Value, writer);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (JsonElement item in element.EnumerateArray())
                {
                    WriteCanonical(item, writer);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(element.GetString());
                break;
            case JsonValueKind.Number:
                writer.WriteRawValue(CanonicalNumber(element.GetRawText()), skipInputValidation: true);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

    /// <summary>
    /// A JSON number written one way for one value, exactly (no rounding: 9007199254740993 stays apart from
    /// 9007199254740992): the significant digits without leading or trailing zeros, then <c>E</c> and the exponent
    /// unless it is 0; "0" for zero. 2.5, 2.50 and 25e-1 are all <c>25E-1</c>; 400 is <c>4E2</c>.
    /// </summary>
    public static string CanonicalNumber(string number)
    {
        ArgumentException.ThrowIfNullOrEmpty(number);
        bool negative = number[0] == '-';
        int i = negative ? 1 : 0;
        var digits = new StringBuilder(number.Length);
        BigInteger exponent = 0;
        for (; i < number.Length && char.IsAsciiDigit(number[i]); i++)
        {
            digits.Append(number[i]);
        }

        if (i < number.Length && number[i] == '.')
        {
            for (i++; i < number.Length && char.IsAsciiDigit(number[i]); i++)
            {
                digits.Append(number[i]);
                exponent--;
            }
        }

        if (i < number.Length && number[i] is 'e' or 'E')
        {
            exponent += BigInteger.Parse(number.AsSpan(i + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        string significant = digits.ToString().TrimStart('0');
        if (significant.Length == 0)
        {
            return "0";
        }

        string trimmed = significant.TrimEnd('0');
        exponent += significant.Length - trimmed.Length;
        return (negative ? "-" : "") + trimmed + (exponent.IsZero ? "" : "E" + exponent.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The message as a JSON document (its text, or the text its base64 decodes to); null, with a reason added, when it
    /// is neither. A message that is not valid UTF-16 (a lone surrogate) gets a reason and is read with U+FFFD in its place.
    /// Text inside the document is not checked here: see <see cref="CheckText"/>.
    /// </summary>
    public static JsonDocument? Parse(string message, ReasonList reasons, out bool wasBase64)
    {
        wasBase64 = false;
        int lone = IndexOfLoneSurrogate(message);
        if (lone >= 0)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"The message is not valid UTF-16 text: character {lone} is a lone surrogate (U+{(int)message[lone]:X4}); send valid Unicode text."));
            message = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(message));
        }

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

    /// <summary>
    /// The message's UTF-8 bytes as text. Bytes that are not UTF-8 get a reason (naming the offset of the first) and
    /// are read as U+FFFD, so that the rest of the message can still be checked.
    /// </summary>
    public static string DecodeUtf8(ReadOnlySpan<byte> bytes, ReasonList reasons)
    {
        if (!Utf8.IsValid(bytes))
        {
            int offset = 0;
            while (Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) == OperationStatus.Done)
            {
                offset += consumed;
            }

            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"The message is not valid UTF-8 text: the bytes at offset {offset} (0x{bytes[offset]:X2}...) are not a UTF-8 sequence; send valid Unicode text."));
        }

        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// Adds a reason for every string value and property name under <paramref name="element"/> (at <paramref name="path"/>)
    /// whose JSON escapes leave a lone surrogate (such as <c>"\ud800"</c>): text that is not valid Unicode. True when
    /// there is none; only then may the document's strings be read.
    /// </summary>
    public static bool CheckText(JsonElement element, string path, ReasonList reasons)
    {
        bool valid = true;
        switch (element.ValueKind)
        {
            case JsonValueKind.String when !TryGetText(element, out _):
                reasons.Add($"{path} is not valid Unicode text: its escapes leave a lone surrogate (the JSON is {JobText.Truncate(element.GetRawText())}).");
                return false;
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    if (TryGetName(property, out string? name))
                    {
                        valid &= CheckText(property.Value, path + "." + JobText.Truncate(name!), reasons);
                    }
                    else
                    {
                        reasons.Add($"{path} has a property name that is not valid Unicode text: its escapes leave a lone surrogate.");
                        valid = false;
                    }
                }

                break;
            case JsonValueKind.Array:
                int index = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    valid &= CheckText(item, string.Create(CultureInfo.InvariantCulture, $"{path}[{index++}]"), reasons);
                }

                break;
        }

        return valid;
    }

    /// <summary>
    /// The string property <paramref name="name"/> of <paramref name="element"/> when it is valid Unicode text and
    /// <paramref name="isValid"/> accepts it, else null; for documents that <see cref="CheckText"/> found invalid text in.
    /// </summary>
    public static string? ReadValidTextOrNull(JsonElement element, string name, Func<string, bool> isValid)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (TryGetName(property, out string? propertyName) && propertyName == name
                && property.Value.ValueKind == JsonValueKind.String && TryGetText(property.Value, out string? text) && isValid(text!))
            {
                return text;
            }
        }

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
            try
            {
                document = JsonDocument.Parse(text, DocumentOptions);
            }
            catch (InvalidOperationException)
            {
                // The duplicate check reads every property name, and one is not valid Unicode: parse without the
                // check, so that CheckText can say which (such a document is not read any further).
                document = JsonDocument.Parse(text, DocumentOptions with { AllowDuplicateProperties = true });
            }

            return null;
        }
        catch (JsonException exception)
        {
            // The parser's message may quote the offending character.
            document = null;
            return JobText.Escape(exception.Message);
        }
    }

    // A string whose escapes leave a lone surrogate throws when it is read.
    private static bool TryGetText(JsonElement element, out string? text)
    {
        try
        {
            text = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            text = null;
            return false;
        }
    }

    private static bool TryGetName(JsonProperty property, out string? name)
    {
        try
        {
            name = property.Name;
            return true;
        }
        catch (InvalidOperationException)
        {
            name = null;
            return false;
        }
    }

    private static int IndexOfLoneSurrogate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return i;
            }
        }

        return -1;
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

/// <summary>
/// Short descriptions of JSON values and user text for rejection reasons and logs. User text is echoed with every
/// character that could disturb a log line or a terminal written as <c>\uXXXX</c> (see <see cref="Escape"/>).
/// </summary>
internal static class JobText
{
    private const int MaxEcho = 48;

    /// <summary>"a string ("abc")", "a number (4.5)", "an object", ...: what a value is, for "got ..." clauses.</summary>
    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string (" + Quote(value.GetString() ?? "") + ")",
        JsonValueKind.Number => "the number " + Truncate(value.GetRawText()),
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>The text in double quotes, escaped (quotes and backslashes too) and truncated.</summary>
    public static string Quote(string text) => "\"" + Echo(text, quoted: true) + "\"";

    /// <summary>The text escaped and truncated past a few dozen characters.</summary>
    public static string Truncate(string text) => Echo(text, quoted: false);

    /// <summary>
    /// The text with control characters (C0, DEL, C1), bidirectional controls (U+061C, U+200E, U+200F, U+202A to
    /// U+202E, U+2066 to U+2069), line and paragraph separators and lone surrogates written as <c>\uXXXX</c>; any
    /// other character, surrogate pairs included, is kept.
    /// </summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return NeedsEscaping(text) ? Echo(text, quoted: false, maxLength: int.MaxValue) : text;
    }

    /// <summary>True for a character that <see cref="Escape"/> writes as an escape (when it is not half of a pair).</summary>
    public static bool IsUnsafe(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || c is '\u061C' or '\u200E' or '\u200F' or '\u2028' or '\u2029'
        || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';

    private static bool NeedsEscaping(string text)
    {
        foreach (char c in text)
        {
            if (IsUnsafe(c))
            {
                return true;
            }
        }

        return false;
    }

    private static string Echo(string text, bool quoted, int maxLength = MaxEcho)
    {
        var echo = new StringBuilder(Math.Min(text.Length, maxLength) + 8);
        for (int i = 0; i < text.Length; i++)
        {
            if (echo.Length >= maxLength)
            {
                return echo.Append("...").ToString();
            }

            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                echo.Append(c).Append(text[++i]);
            }
            else if (IsUnsafe(c))
            {
                echo.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                echo.Append(quoted && c is '"' or '\\' ? "\\" + c : c.ToString());
            }
        }

        return echo.ToString();
    }
}

/// <summary>
/// Collects rejection reasons, keeping the first <see cref="MaxReasons"/> and counting the rest, so a
/// job with thousands of bad entries gets a readable (and storable) answer.
/// </summary>
internal sealed class ReasonList
{
    public const int MaxReasons = 50;

    private readonly List<string> reasons = [];
    private int dropped;

    public int Count => reasons.Count + dropped;

    public void Add(string reason)
    {
        if (reasons.Count < MaxReasons)
        {
            reasons.Add(reason);
        }
        else
        {
            dropped++;
        }
    }

    public IReadOnlyList<string> ToList() => dropped == 0
        ? reasons.ToArray()
        : [.. reasons, string.Create(CultureInfo.InvariantCulture, $"... and {dropped} more problems not listed here.")];
}
