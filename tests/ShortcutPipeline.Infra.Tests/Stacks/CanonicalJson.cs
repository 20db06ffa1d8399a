using System.Globalization;
using System.Text.Json.Nodes;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>
/// Compares values of both stacks regardless of what neither Resource Manager nor the apps care about: object
/// key order, the order of lists of named items (settings, probes, rules, keyed by "name" or "type"), and how a
/// number was written.
/// </summary>
public static class CanonicalJson
{
    /// <summary>The canonical form of <paramref name="value"/>.</summary>
    public static JsonNode? Of(JsonNode? value) => value switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(property => property.Key, StringComparer.Ordinal)
            .Select(property => KeyValuePair.Create(property.Key, Of(property.Value)))),
        JsonArray array => new JsonArray(Sorted(array.Select(Of).ToList()).ToArray()),
        JsonValue scalar when TryGetNumber(scalar, out decimal number) => JsonValue.Create(number / 1.000000000000000000000000000000000m),
        _ => value?.DeepClone(),
    };

    /// <summary>The number a value holds, however it was made (a JSON number, an int, a decimal…).</summary>
    public static bool TryGetNumber(JsonNode? value, out decimal number)
    {
        number = 0;
        if (value is not JsonValue scalar || scalar.GetValueKind() != System.Text.Json.JsonValueKind.Number)
        {
            return false;
        }
        number = decimal.Parse(scalar.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>The paths at which <paramref name="left"/> and <paramref name="right"/> differ, with both values.</summary>
    public static IReadOnlyList<string> Differences(JsonNode? left, JsonNode? right, string leftName, string rightName)
    {
        var differences = new List<string>();
        Compare(Of(left), Of(right), "$", leftName, rightName, differences);
        return differences;
    }

    private static void Compare(JsonNode? left, JsonNode? right, string path, string leftName, string rightName, List<string> differences)
    {
        if (left is JsonObject l && right is JsonObject r)
        {
            foreach (string key in l.Select(p => p.Key).Union(r.Select(p => p.Key)).Order(StringComparer.Ordinal))
            {
                if (!l.ContainsKey(key) || !r.ContainsKey(key))
                {
                    differences.Add($"{path}.{key}: only in {(l.ContainsKey(key) ? leftName : rightName)} ({(l[key] ?? r[key])?.ToJsonString()})");
                    continue;
                }
                Compare(l[key], r[key], $"{path}.{key}", leftName, rightName, differences);
            }
            return;
        }
        if (left is JsonArray la && right is JsonArray ra && la.Count == ra.Count)
        {
            for (int i = 0; i < la.Count; i++)
            {
                Compare(la[i], ra[i], $"{path}[{Key(la[i]) ?? i.ToString(CultureInfo.InvariantCulture)}]", leftName, rightName, differences);
            }
            return;
        }
        if (left?.ToJsonString() != right?.ToJsonString())
        {
            differences.Add($"{path}: {leftName} {left?.ToJsonString() ?? "null"}, {rightName} {right?.ToJsonString() ?? "null"}");
        }
    }

    private static IEnumerable<JsonNode?> Sorted(List<JsonNode?> items) =>
        items.Count > 0 && items.All(item => Key(item) is not null)
            ? items.OrderBy(item => Key(item), StringComparer.Ordinal)
            : items;

    private static string? Key(JsonNode? item) =>
        item is JsonObject obj && (obj["name"] ?? obj["type"]) is JsonValue key && key.TryGetValue(out string? text) ? text : null;
}
