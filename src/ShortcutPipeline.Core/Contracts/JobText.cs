using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ShortcutPipeline.Core.Contracts;

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
