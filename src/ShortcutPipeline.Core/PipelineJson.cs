using System.Text.Json.Serialization;

namespace ShortcutPipeline.Core;

/// <summary>
/// The JSON settings of every document the pipeline writes (work items, status views, manifests,
/// callbacks): camelCase names, enums as camelCase strings, nulls left out.
/// </summary>
public static class PipelineJson
{
    /// <summary>The shared serializer options (read-only).</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            WriteIndented = false,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
