using System.Text.Json;

namespace ShortcutPipeline.Core.Storage;

/// <summary>Lists kept as JSON text in a table property (the table service stores no lists).</summary>
internal static class TableJson
{
    /// <summary>The strings of a property written by <see cref="WriteStrings"/>; empty for null.</summary>
    public static IReadOnlyList<string> ReadStrings(string? json) => json is null ? [] : JsonSerializer.Deserialize<string[]>(json) ?? [];

    /// <summary>The property text of <paramref name="values"/>; null (no property) when there are none.</summary>
    public static string? WriteStrings(IReadOnlyList<string> values) => values.Count == 0 ? null : JsonSerializer.Serialize(values);
}
