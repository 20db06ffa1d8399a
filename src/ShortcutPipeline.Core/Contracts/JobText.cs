using System.Text.Json;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>Short descriptions of JSON values and user text for rejection reasons.</summary>
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

    public static string Quote(string text) => "\"" + Truncate(text) + "\"";

    public static string Truncate(string text)
    {
        string oneLine = text.ReplaceLineEndings(" ");
        return oneLine.Length <= MaxEcho ? oneLine : oneLine[..MaxEcho] + "...";
    }
}
