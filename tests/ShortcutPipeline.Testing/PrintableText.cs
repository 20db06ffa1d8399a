using System.Globalization;
using System.Text;

namespace ShortcutPipeline.Testing;

/// <summary>
/// The test's own view of text that is safe to show in a log line or a stored reason: no control characters, no
/// bidirectional controls, no line or paragraph separators, no lone surrogates. Written apart from the code under
/// test, so that a test does not check that code against itself.
/// </summary>
public static class PrintableText
{
    /// <summary>The first character of <paramref name="text"/> that is not safe, described, or null when there is none.</summary>
    public static string? FirstUnsafe(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            bool unsafeCharacter = char.IsControl(c) || char.IsSurrogate(c) || c is '\u061C' or '\u200E' or '\u200F' or '\u2028' or '\u2029'
                || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';
            if (unsafeCharacter)
            {
                return string.Create(CultureInfo.InvariantCulture, $"U+{(int)c:X4} at {i} in \"{Visible(text)}\"");
            }
        }

        return null;
    }

    // The text with every character outside printable ASCII as \uXXXX, for failure messages.
    private static string Visible(string text)
    {
        var visible = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            visible.Append(c is >= ' ' and <= '~' ? c.ToString() : string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"));
        }

        return visible.ToString();
    }
}
