using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ShortcutPipeline.Infra.Tests.Terraform;

/// <summary>
/// Writes an azapi_resource's body as a Bicep resource of the same type and API version, so that the Bicep
/// compiler checks the property names and literal values against the Resource Manager types it carries.
/// Terraform expressions become any('…'): only their place in the body is checked, not their type.
/// </summary>
public static partial class AzapiBodies
{
    /// <summary>azapi_resource's arguments (azapi 2.x; the provider ships no offline schema).</summary>
    public static IReadOnlySet<string> Arguments { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "type", "name", "parent_id", "location", "body", "identity", "tags", "response_export_values",
        "schema_validation_enabled", "ignore_casing", "ignore_missing_property", "ignore_null_property",
        "locks", "replace_triggers_external_values", "replace_triggers_refs", "retry", "timeouts",
        "create_headers", "create_query_parameters", "read_headers", "read_query_parameters",
        "update_headers", "update_query_parameters", "delete_headers", "delete_query_parameters",
        "sensitive_body", "sensitive_body_version",
    };

    public static IReadOnlySet<string> RequiredArguments { get; } = new HashSet<string>(StringComparer.Ordinal) { "type", "name" };

    /// <summary>Arguments of azapi_resource's identity block.</summary>
    public static IReadOnlySet<string> IdentityArguments { get; } = new HashSet<string>(StringComparer.Ordinal) { "type", "identity_ids" };

    /// <summary>What other blocks may read from an azapi_resource.</summary>
    public static IReadOnlySet<string> ReadableAttributes { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "id", "name", "type", "parent_id", "location", "tags", "body", "output", "identity",
    };

    /// <summary>Microsoft.App/containerApps@2025-01-01 → (Microsoft.App/containerApps, 2025-01-01).</summary>
    public static (string ResourceType, string ApiVersion) SplitType(string azapiType)
    {
        int at = azapiType.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? (azapiType, "") : (azapiType[..at], azapiType[(at + 1)..]);
    }

    public static string ToBicep(string azapiType, JsonElement body, bool hasLocation)
    {
        (string resourceType, _) = SplitType(azapiType);
        int nameSegments = resourceType.Split('/').Length - 1;
        var bicep = new StringBuilder();
        if (hasLocation)
        {
            bicep.AppendLine("param location string");
        }
        bicep.Append(CultureInfo.InvariantCulture, $"resource checked '{azapiType}' = {{\n");
        bicep.Append(CultureInfo.InvariantCulture, $"  name: '{string.Join('/', Enumerable.Repeat("checked", nameSegments))}'\n");
        if (hasLocation)
        {
            bicep.Append("  location: location\n");
        }
        if (body.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty property in body.EnumerateObject())
            {
                bicep.Append(CultureInfo.InvariantCulture, $"  {Key(property.Name)}: ");
                AppendValue(bicep, property.Value, "  ");
                bicep.Append('\n');
            }
        }
        bicep.Append("}\n");
        return bicep.ToString();
    }

    private static void AppendValue(StringBuilder bicep, JsonElement value, string indent)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                bicep.Append("{\n");
                foreach (JsonProperty property in value.EnumerateObject())
                {
                    bicep.Append(CultureInfo.InvariantCulture, $"{indent}  {Key(property.Name)}: ");
                    AppendValue(bicep, property.Value, indent + "  ");
                    bicep.Append('\n');
                }
                bicep.Append(indent).Append('}');
                break;
            case JsonValueKind.Array:
                bicep.Append("[\n");
                foreach (JsonElement item in value.EnumerateArray())
                {
                    bicep.Append(indent).Append("  ");
                    AppendValue(bicep, item, indent + "  ");
                    bicep.Append('\n');
                }
                bicep.Append(indent).Append(']');
                break;
            case JsonValueKind.String:
                string text = value.GetString()!;
                bicep.Append(text.Contains("${", StringComparison.Ordinal) ? $"any({BicepString(text)})" : BicepString(text));
                break;
            case JsonValueKind.True:
                bicep.Append("true");
                break;
            case JsonValueKind.False:
                bicep.Append("false");
                break;
            case JsonValueKind.Null:
                bicep.Append("null");
                break;
            default:
                bicep.Append(value.GetRawText());
                break;
        }
    }

    private static string Key(string name) => Identifier().IsMatch(name) ? name : BicepString(name);

    /// <summary>A Bicep string literal of <paramref name="text"/>.</summary>
    public static string BicepString(string text) =>
        "'" + text.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("'", "\\'", StringComparison.Ordinal)
            .Replace("${", "\\${", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal)
            .Replace("\r", "\\r", StringComparison.Ordinal) + "'";

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Identifier();
}
