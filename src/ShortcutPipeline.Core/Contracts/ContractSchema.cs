using System.Reflection;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using Json.Schema;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// A message contract as a JSON Schema (draft 2020-12), checked at run time with JsonSchema.Net, whose failures are
/// written as the sentences users read: each starts with the JSON path (<c>$.classes[0].count</c>) and says what the
/// value must be and what it is. The words come from the schema itself, from two annotations any JSON Schema tool
/// ignores:
/// <list type="bullet">
/// <item><c>x-rule</c> on a property's schema: what its value must be ("a power of two from 1 to 128"), for
/// "{path} must be {rule}; got {got}." and "{path} is required: {rule}.".</item>
/// <item><c>x-messages</c>: templates by keyword that replace those defaults (<c>"required"</c>, <c>"maxItems"</c>),
/// and the sentences for a failed <c>anyOf</c>, <c>oneOf</c> or <c>not</c> where the value's rule would not say it
/// (on a job: "give exactly one of classes and items").</item>
/// </list>
/// Templates and rules may name <c>{path}</c>, <c>{got}</c>, <c>{count}</c> (an array's length) and any number or
/// string keyword of the same schema (<c>{maximum}</c>, <c>{maxItems}</c>), so a limit set at run time (see
/// <see cref="Load"/>) reads right. An unknown property gets the same sentence everywhere, with the names allowed there.
/// What a schema cannot say (sums over entries, ids derived from content, addresses resolved) stays with the readers.
/// </summary>
internal sealed partial class ContractSchema
{
    private static readonly EvaluationOptions Evaluation = new()
    {
        OutputFormat = OutputFormat.Hierarchical,
        RequireFormatValidation = true,
    };

    private readonly JsonSchema schema;
    private readonly JsonObject root;

    private ContractSchema(JsonObject root)
    {
        this.root = root;
        Text = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

        // Without its $id the schema is not registered globally, so differently configured copies can live side by side.
        JsonObject evaluated = (JsonObject)root.DeepClone();
        evaluated.Remove("$id");
        schema = JsonSchema.FromText(evaluated.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    }

    /// <summary>The schema as configured (the published text with the limits of this deployment).</summary>
    public string Text { get; }

    /// <summary>The text of the embedded resource <paramref name="resourceName"/> of <paramref name="assembly"/>.</summary>
    public static string ReadResource(Assembly assembly, string resourceName)
    {
        using Stream stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"The embedded resource {resourceName} is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The contract of <paramref name="schemaText"/>, after <paramref name="configure"/> has set its configurable limits.</summary>
    public static ContractSchema Load(string schemaText, Action<JsonObject>? configure = null)
    {
        JsonObject root = JsonNode.Parse(schemaText)?.AsObject() ?? throw new InvalidOperationException("The schema is not a JSON object.");
        configure?.Invoke(root);
        return new ContractSchema(root);
    }

    /// <summary>The schema of the value at <paramref name="pointer"/> (a JSON pointer such as <c>/classes/0/count</c>), following properties and items.</summary>
    public JsonObject SchemaAt(string pointer)
    {
        JsonObject current = root;
        foreach (string segment in Segments(pointer))
        {
            current = Child(current, segment) ?? throw new ArgumentException($"The schema has nothing at {pointer}.", nameof(pointer));
        }

        return current;
    }

    /// <summary>
    /// Checks <paramref name="instance"/> and adds a reason for every failure to <paramref name="reasons"/>; returns
    /// where they are, so a reader takes only the values that passed.
    /// </summary>
    public ContractFindings Check(JsonElement instance, ReasonList reasons)
    {
        var findings = new ContractFindings();
        EvaluationResults results = schema.Evaluate(instance, Evaluation);
        if (!results.IsValid)
        {
            Explain(results, instance, reasons, findings);
        }

        return findings;
    }

    /// <summary>"{path} must be {rule}; got {got}." for the value at <paramref name="pointer"/>: for the checks a reader adds.</summary>
    public string Violation(string pointer, JsonElement value) =>
        Fill(Template(SchemaAt(pointer), "*"), SchemaAt(pointer), pointer, value);

    /// <summary>The JSON path of a JSON pointer: <c>/classes/0/count</c> is <c>$.classes[0].count</c>.</summary>
    public static string PathOf(string pointer)
    {
        var path = new StringBuilder("$");
        foreach (string segment in Segments(pointer))
        {
            if (segment.Length > 0 && segment.All(char.IsAsciiDigit))
            {
                path.Append('[').Append(segment).Append(']');
            }
            else
            {
                path.Append('.').Append(JobText.Truncate(segment));
            }
        }

        return path.ToString();
    }

    // Walks the failed part of the results. Applicators that only combine (properties, items, allOf, $ref) are
    // walked into; a failed choice (anyOf, oneOf, not) is explained by the message of the schema that holds it.
    private void Explain(EvaluationResults node, JsonElement instance, ReasonList reasons, ContractFindings findings)
    {
        string pointer = node.InstanceLocation.ToString();
        string evaluationPath = node.EvaluationPath.ToString();
        if (node.Errors is { Count: > 0 } errors)
        {
            foreach (string keyword in errors.Keys)
            {
                Report(keyword, pointer, evaluationPath, instance, reasons, findings);
            }
        }

        var choices = new HashSet<string>(StringComparer.Ordinal);
        foreach (EvaluationResults child in node.Details ?? [])
        {
            string keyword = FirstSegment(child.EvaluationPath.ToString(), evaluationPath);
            switch (keyword)
            {
                case "anyOf" or "oneOf" or "not":
                    choices.Add(keyword);
                    break;
                default:
                    if (!child.IsValid)
                    {
                        Explain(child, instance, reasons, findings);
                    }

                    break;
            }
        }

        foreach (string choice in choices.Where(choice => ChoiceFailed(node, evaluationPath, choice)))
        {
            // A sentence of its own where the schema has one (an object's "give exactly one of them"); otherwise the
            // value's rule, once, as for any other failure of the value.
            JsonObject at = SchemaAt(pointer);
            bool ownSentence = at["x-messages"]?[choice] is not null;
            if (findings.Add(ownSentence ? pointer + "#" + choice : pointer))
            {
                reasons.Add(Fill(Template(at, ownSentence ? choice : "*"), at, pointer, ValueAt(instance, pointer)));
            }
        }
    }

    private static bool ChoiceFailed(EvaluationResults node, string evaluationPath, string choice)
    {
        int passed = (node.Details ?? []).Count(child => child.IsValid && FirstSegment(child.EvaluationPath.ToString(), evaluationPath) == choice);
        return choice switch
        {
            "anyOf" => passed == 0,
            "oneOf" => passed != 1,
            _ => passed == 1, // not: its schema matched
        };
    }

    private void Report(string keyword, string pointer, string evaluationPath, JsonElement instance, ReasonList reasons, ContractFindings findings)
    {
        JsonElement value = ValueAt(instance, pointer);
        if (keyword == "required")
        {
            JsonObject objectSchema = SchemaAt(pointer);
            foreach (string name in (objectSchema["required"]?.AsArray() ?? []).Select(n => n!.GetValue<string>()))
            {
                if (value.ValueKind == JsonValueKind.Object && !value.TryGetProperty(name, out _))
                {
                    string missing = pointer + "/" + Escape(name);
                    findings.Add(missing);
                    JsonObject propertySchema = SchemaAt(missing);
                    reasons.Add(Fill(Template(propertySchema, "required"), propertySchema, missing, default));
                }
            }

            return;
        }

        if (!findings.Add(pointer))
        {
            return; // one sentence per value, however many of its keywords failed
        }

        if (keyword.Length == 0 && evaluationPath.EndsWith("/additionalProperties", StringComparison.Ordinal))
        {
            // The false schema of a closed object: a property that is not in the contract.
            string parent = pointer[..pointer.LastIndexOf('/')];
            string name = Segments(pointer).Last();
            string[] known = (SchemaAt(parent)["properties"]?.AsObject() ?? []).Select(p => p.Key).ToArray();
            string? sameButCase = Array.Find(known, k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
            string hint = sameButCase is not null
                ? $"did you mean \"{sameButCase}\"? Names are case-sensitive"
                : "allowed here: " + string.Join(", ", known);
            reasons.Add($"{PathOf(pointer)} is not a known property ({hint}).");
            return;
        }

        JsonObject failed = SchemaAt(pointer);
        reasons.Add(Fill(Template(failed, keyword), failed, pointer, value));
    }

    private static string Template(JsonObject schema, string keyword)
    {
        if (schema["x-messages"] is JsonObject messages && messages[keyword] is JsonValue message)
        {
            return message.GetValue<string>();
        }

        return keyword switch
        {
            "required" => "{path} is required: {rule}.",
            "minItems" => "{path} must not be empty.",
            "maxItems" => "{path} has {count} entries; the limit is {maxItems}.",
            _ => "{path} must be {rule}; got {got}.",
        };
    }

    private static string Fill(string template, JsonObject schema, string pointer, JsonElement value)
    {
        string rule = schema["x-rule"]?.GetValue<string>() ?? "as the schema says";
        string text = template.Replace("{rule}", rule, StringComparison.Ordinal);
        return Placeholder().Replace(text, match => match.Groups[1].Value switch
        {
            "path" => PathOf(pointer),
            "got" => JobText.Describe(value),
            "count" => value.ValueKind == JsonValueKind.Array
                ? value.GetArrayLength().ToString(CultureInfo.InvariantCulture)
                : value.ValueKind == JsonValueKind.Object ? value.EnumerateObject().Count().ToString(CultureInfo.InvariantCulture) : "0",
            string keyword when schema[keyword] is JsonValue keywordValue => keywordValue.ToJsonString().Trim('"'),
            _ => match.Value,
        });
    }

    private static JsonObject? Child(JsonObject schema, string segment)
    {
        if (schema["properties"] is JsonObject properties && properties[segment] is JsonObject property)
        {
            return property;
        }

        if (segment.Length > 0 && segment.All(char.IsAsciiDigit) && schema["items"] is JsonObject items)
        {
            return items;
        }

        return schema["additionalProperties"] as JsonObject;
    }

    private static JsonElement ValueAt(JsonElement instance, string pointer)
    {
        JsonElement current = instance;
        foreach (string segment in Segments(pointer))
        {
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(segment, out JsonElement property))
            {
                current = property;
            }
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(segment, CultureInfo.InvariantCulture, out int index)
                && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                return default;
            }
        }

        return current;
    }

    private static string FirstSegment(string childPath, string parentPath)
    {
        string rest = childPath.Length > parentPath.Length ? childPath[(parentPath.Length + 1)..] : "";
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? rest : rest[..slash];
    }

    private static IEnumerable<string> Segments(string pointer) => pointer.Length == 0
        ? []
        : pointer[1..].Split('/').Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));

    private static string Escape(string name) => name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    [GeneratedRegex(@"\{([A-Za-z]+)\}")]
    private static partial Regex Placeholder();
}

/// <summary>Where a message broke its contract (JSON pointers), so that readers take only the values that passed.</summary>
internal sealed class ContractFindings
{
    private readonly HashSet<string> failed = new(StringComparer.Ordinal);

    /// <summary>True when nothing failed at <paramref name="pointer"/> or below it.</summary>
    public bool IsClean(string pointer) => !failed.Any(f =>
        f.StartsWith(pointer, StringComparison.Ordinal) && (f.Length == pointer.Length || f[pointer.Length] is '/' or '#'));

    /// <summary>True when the message broke nothing.</summary>
    public bool IsEmpty => failed.Count == 0;

    internal bool Add(string pointer) => failed.Add(pointer);
}
