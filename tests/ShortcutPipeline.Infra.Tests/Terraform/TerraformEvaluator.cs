using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ShortcutPipeline.Infra.Tests.Terraform;

/// <summary>A reference to an attribute of a managed resource or data source: azurerm_storage_account.main.name.</summary>
/// <param name="Kind">resource or data.</param>
/// <param name="Type">The resource type.</param>
/// <param name="Name">The block's name.</param>
/// <param name="Key">The instance key of a for_each or count resource, if indexed.</param>
/// <param name="Path">The attribute and any attributes after it.</param>
public sealed record ResourceReference(string Kind, string Type, string Name, JsonNode? Key, IReadOnlyList<string> Path);

/// <summary>The names an expression can see besides var, local and resources: each.key/each.value and for-expression variables.</summary>
public sealed class EvaluationScope
{
    private readonly Dictionary<string, JsonNode?> names = new(StringComparer.Ordinal);

    /// <summary>The top-level scope (no each, no iteration variables).</summary>
    public static EvaluationScope Root { get; } = new();

    /// <summary>The scope of one for_each instance.</summary>
    public static EvaluationScope ForEach(JsonNode? key, JsonNode? value)
    {
        var scope = new EvaluationScope();
        scope.names["each"] = new JsonObject { ["key"] = key?.DeepClone(), ["value"] = value?.DeepClone() };
        return scope;
    }

    /// <summary>This scope with more names (for-expression variables).</summary>
    public EvaluationScope With(IEnumerable<(string Name, JsonNode? Value)> added)
    {
        var scope = new EvaluationScope();
        foreach (KeyValuePair<string, JsonNode?> name in names)
        {
            scope.names[name.Key] = name.Value;
        }
        foreach ((string name, JsonNode? value) in added)
        {
            scope.names[name] = value;
        }
        return scope;
    }

    public bool TryGet(string name, out JsonNode? value) => names.TryGetValue(name, out value);
}

/// <summary>
/// Evaluates the values of a Terraform configuration as `terraform plan` would know them: variables (their
/// defaults, the example tfvars values or given ones), locals, functions and for-expressions are computed;
/// an attribute of a resource or data source, known only after apply, becomes whatever
/// <c>resolveReference</c> makes of it (the stack readers turn them into <see cref="Stacks.ArmToken"/>s).
/// The functions are those the stack uses; any other one fails with its name.
/// </summary>
public sealed class TerraformEvaluator(
    TerraformConfiguration configuration,
    IReadOnlyDictionary<string, JsonNode?> variables,
    Func<ResourceReference, EvaluationScope, JsonNode?> resolveReference)
{
    private readonly Dictionary<string, JsonNode?> locals = new(StringComparer.Ordinal);

    /// <summary>The variables' values: defaults, then <paramref name="examples"/>, then <paramref name="overrides"/>.</summary>
    public static Dictionary<string, JsonNode?> VariableValues(
        TerraformConfiguration configuration, IReadOnlyDictionary<string, JsonElement>? examples, IReadOnlyDictionary<string, JsonNode?>? overrides)
    {
        var values = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (TerraformBlock variable in configuration.Variables)
        {
            values[variable.Name] = variable.TryGet("default", out JsonElement value) ? ToNode(value) : null;
        }
        foreach ((string name, JsonElement value) in examples ?? new Dictionary<string, JsonElement>())
        {
            values[name] = ToNode(value);
        }
        foreach ((string name, JsonNode? value) in overrides ?? new Dictionary<string, JsonNode?>())
        {
            values[name] = value?.DeepClone();
        }
        return values;
    }

    /// <summary>A JSON value as a node (numbers as decimals, for comparisons).</summary>
    public static JsonNode? ToNode(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => new JsonObject(value.EnumerateObject().Select(property => KeyValuePair.Create(property.Name, ToNode(property.Value)))),
        JsonValueKind.Array => new JsonArray(value.EnumerateArray().Select(ToNode).ToArray()),
        JsonValueKind.String => JsonValue.Create(value.GetString()),
        JsonValueKind.Number => JsonValue.Create(value.GetDecimal()),
        JsonValueKind.True => JsonValue.Create(true),
        JsonValueKind.False => JsonValue.Create(false),
        _ => null,
    };

    /// <summary>Evaluates a value as @cdktf/hcl2json writes it: objects and arrays member by member, strings as templates.</summary>
    public JsonNode? Evaluate(JsonElement value, EvaluationScope? scope = null)
    {
        scope ??= EvaluationScope.Root;
        return value.ValueKind switch
        {
            JsonValueKind.Object => new JsonObject(value.EnumerateObject().Select(property => KeyValuePair.Create(property.Name, Evaluate(property.Value, scope)))),
            JsonValueKind.Array => new JsonArray(value.EnumerateArray().Select(item => Evaluate(item, scope)).ToArray()),
            JsonValueKind.String => Evaluate(HclExpression.ParseTemplate(value.GetString()!), scope),
            _ => ToNode(value),
        };
    }

    /// <summary>The value of local.<paramref name="name"/>.</summary>
    public JsonNode? Local(string name)
    {
        if (!locals.TryGetValue(name, out JsonNode? value))
        {
            if (!configuration.Locals.TryGetValue(name, out JsonElement declared))
            {
                throw new InvalidOperationException($"local.{name} is not declared.");
            }
            value = Evaluate(declared);
            locals[name] = value;
        }
        return value?.DeepClone();
    }

    public JsonNode? Evaluate(HclExpression expression, EvaluationScope scope) => expression switch
    {
        HclLiteral literal => Literal(literal.Value),
        HclTemplate template => JsonValue.Create(string.Concat(template.Parts.Select(part => Text(Evaluate(part, scope))))),
        HclTuple tuple => new JsonArray(tuple.Items.Select(item => Evaluate(item, scope)).ToArray()),
        HclObject obj => new JsonObject(obj.Items.Select(item => KeyValuePair.Create(Text(Evaluate(item.Key, scope)), Evaluate(item.Value, scope)))),
        HclConditional conditional => Bool(Evaluate(conditional.Condition, scope))
            ? Evaluate(conditional.WhenTrue, scope)
            : Evaluate(conditional.WhenFalse, scope),
        HclOperator op => Operate(op, scope),
        HclCall call => Call(call, scope),
        HclFor loop => For(loop, scope),
        HclName or HclAttribute or HclIndex => Traverse(expression, scope),
        _ => throw new NotSupportedException($"Cannot evaluate {expression}."),
    };

    private JsonNode? Traverse(HclExpression expression, EvaluationScope scope)
    {
        var segments = new List<HclExpression>();
        HclExpression root = expression;
        while (root is HclAttribute or HclIndex)
        {
            segments.Insert(0, root);
            root = root is HclAttribute attribute ? attribute.Target : ((HclIndex)root).Target;
        }
        string name = ((HclName)root).Name;
        string? AttributeAt(int index) => index < segments.Count && segments[index] is HclAttribute attribute ? attribute.Name : null;
        JsonNode? value;
        int used;
        if (scope.TryGet(name, out JsonNode? named))
        {
            (value, used) = (named?.DeepClone(), 0);
        }
        else if (name == "var")
        {
            string variable = AttributeAt(0) ?? throw new FormatException("var needs a name");
            value = variables.TryGetValue(variable, out JsonNode? known) ? known?.DeepClone() : throw new InvalidOperationException($"var.{variable} is not declared.");
            used = 1;
        }
        else if (name == "local")
        {
            (value, used) = (Local(AttributeAt(0) ?? throw new FormatException("local needs a name")), 1);
        }
        else if (name == "data")
        {
            string type = AttributeAt(0) ?? throw new FormatException("data needs a type");
            string block = AttributeAt(1) ?? throw new FormatException("data needs a name");
            return resolveReference(new ResourceReference("data", type, block, null, Rest(segments, 2, scope)), scope);
        }
        else if (configuration.Resources.Any(resource => resource.Type == name))
        {
            string block = AttributeAt(0) ?? throw new FormatException($"{name} needs a name");
            JsonNode? key = null;
            int next = 1;
            if (next < segments.Count && segments[next] is HclIndex index)
            {
                key = Evaluate(index.Key, scope);
                next++;
            }
            return resolveReference(new ResourceReference("resource", name, block, key, Rest(segments, next, scope)), scope);
        }
        else
        {
            throw new InvalidOperationException($"Cannot evaluate the name '{name}'.");
        }

        foreach (HclExpression segment in segments.Skip(used))
        {
            value = segment switch
            {
                HclAttribute attribute => (value as JsonObject)?[attribute.Name]?.DeepClone()
                    ?? throw new InvalidOperationException($"No attribute '{attribute.Name}' in {value?.ToJsonString()}."),
                HclIndex index => Index(value, Evaluate(index.Key, scope)),
                _ => throw new NotSupportedException(),
            };
        }
        return value;
    }

    private List<string> Rest(List<HclExpression> segments, int from, EvaluationScope scope) =>
        segments.Skip(from).Select(segment => segment is HclAttribute attribute ? attribute.Name : Text(Evaluate(((HclIndex)segment).Key, scope))).ToList();

    private static JsonNode? Index(JsonNode? value, JsonNode? key) => value switch
    {
        JsonArray array => array[(int)Number(key)]?.DeepClone(),
        JsonObject obj => obj[Text(key)]?.DeepClone() ?? throw new InvalidOperationException($"No key '{Text(key)}' in {obj.ToJsonString()}."),
        _ => throw new InvalidOperationException($"Cannot index {value?.ToJsonString()}."),
    };

    private JsonNode? Operate(HclOperator op, EvaluationScope scope)
    {
        if (op.Operator is "&&" or "||")
        {
            bool left = Bool(Evaluate(op.Operands[0], scope));
            return JsonValue.Create(op.Operator == "&&" ? left && Bool(Evaluate(op.Operands[1], scope)) : left || Bool(Evaluate(op.Operands[1], scope)));
        }
        JsonNode?[] operands = op.Operands.Select(operand => Evaluate(operand, scope)).ToArray();
        return op.Operator switch
        {
            "!" => JsonValue.Create(!Bool(operands[0])),
            "-" when operands.Length == 1 => JsonValue.Create(-Number(operands[0])),
            "==" => JsonValue.Create(JsonNode.DeepEquals(operands[0], operands[1])),
            "!=" => JsonValue.Create(!JsonNode.DeepEquals(operands[0], operands[1])),
            "<" => JsonValue.Create(Number(operands[0]) < Number(operands[1])),
            "<=" => JsonValue.Create(Number(operands[0]) <= Number(operands[1])),
            ">" => JsonValue.Create(Number(operands[0]) > Number(operands[1])),
            ">=" => JsonValue.Create(Number(operands[0]) >= Number(operands[1])),
            "+" => JsonValue.Create(Number(operands[0]) + Number(operands[1])),
            "-" => JsonValue.Create(Number(operands[0]) - Number(operands[1])),
            "*" => JsonValue.Create(Number(operands[0]) * Number(operands[1])),
            "/" => JsonValue.Create(Number(operands[0]) / Number(operands[1])),
            "%" => JsonValue.Create(Number(operands[0]) % Number(operands[1])),
            _ => throw new NotSupportedException($"Operator {op.Operator}."),
        };
    }

    private JsonNode? Call(HclCall call, EvaluationScope scope)
    {
        if (call.Function == "can")
        {
            try
            {
                Evaluate(call.Arguments[0], scope);
                return JsonValue.Create(true);
            }
            catch (Exception exception) when (exception is InvalidOperationException or FormatException or ArgumentException)
            {
                return JsonValue.Create(false);
            }
        }
        JsonNode?[] arguments = call.Arguments.Select(argument => Evaluate(argument, scope)).ToArray();
        if (arguments.Any(argument => argument is JsonValue value && value.TryGetValue(out string? text) && Stacks.ArmToken.Contains(text)))
        {
            // A value known only after apply: the result is known only then too.
            return JsonValue.Create(Stacks.ArmToken.Opaque($"{call.Function}({string.Join(", ", arguments.Select(Text))})"));
        }
        return call.Function switch
        {
            "merge" => Merge(arguments),
            "concat" => new JsonArray(arguments.SelectMany(argument => argument as JsonArray
                ?? throw new InvalidOperationException($"concat: {argument?.ToJsonString() ?? "null"} is not a list.")).Select(item => item?.DeepClone()).ToArray()),
            "toset" => new JsonArray(((JsonArray)arguments[0]!).Select(item => item?.DeepClone()).DistinctBy(item => item?.ToJsonString()).OrderBy(item => item?.ToJsonString(), StringComparer.Ordinal).ToArray()),
            "tolist" or "tomap" => arguments[0]?.DeepClone(),
            "contains" => JsonValue.Create(((JsonArray)arguments[0]!).Any(item => JsonNode.DeepEquals(item, arguments[1]))),
            "regex" => Regex.Match(Text(arguments[1]), Text(arguments[0])) is { Success: true } match
                ? JsonValue.Create(match.Value)
                : throw new InvalidOperationException($"regex: '{Text(arguments[1])}' does not match {Text(arguments[0])}."),
            "length" => JsonValue.Create((decimal)(arguments[0] switch
            {
                JsonArray array => array.Count,
                JsonObject obj => obj.Count,
                _ => Text(arguments[0]).Length,
            })),
            "substr" => JsonValue.Create(Substring(Text(arguments[0]), (int)Number(arguments[1]), (int)Number(arguments[2]))),
            "sha256" => JsonValue.Create(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Text(arguments[0]))))),
            "coalesce" => arguments.FirstOrDefault(argument => argument is not null && !(argument is JsonValue value && value.TryGetValue(out string? text) && text.Length == 0))?.DeepClone(),
            "lower" => JsonValue.Create(Text(arguments[0]).ToLowerInvariant()),
            "tostring" => JsonValue.Create(Text(arguments[0])),
            // Sensitivity is Terraform's marking for plan output, not a part of the value.
            "sensitive" or "nonsensitive" => arguments[0]?.DeepClone(),
            "keys" => new JsonArray(((JsonObject)arguments[0]!).Select(property => (JsonNode?)JsonValue.Create(property.Key)).ToArray()),
            _ => throw new NotSupportedException($"The infrastructure tests do not evaluate the function {call.Function}(): add it to TerraformEvaluator."),
        };
    }

    private static string Substring(string text, int offset, int length) =>
        length < 0 || offset + length > text.Length ? text[offset..] : text.Substring(offset, length);

    private static JsonObject Merge(IEnumerable<JsonNode?> objects)
    {
        var merged = new JsonObject();
        foreach (JsonObject obj in objects.OfType<JsonObject>())
        {
            foreach (KeyValuePair<string, JsonNode?> property in obj)
            {
                merged[property.Key] = property.Value?.DeepClone();
            }
        }
        return merged;
    }

    private JsonNode? For(HclFor loop, EvaluationScope scope)
    {
        JsonNode? collection = Evaluate(loop.Collection, scope);
        IEnumerable<(JsonNode? Key, JsonNode? Value)> items = collection switch
        {
            JsonObject obj => obj.Select(property => ((JsonNode?)JsonValue.Create(property.Key), property.Value?.DeepClone())),
            JsonArray array => array.Select((item, index) => ((JsonNode?)JsonValue.Create((decimal)index), item?.DeepClone())),
            _ => throw new InvalidOperationException($"Cannot iterate over {collection?.ToJsonString()}."),
        };
        var tuple = new JsonArray();
        var obj2 = new JsonObject();
        foreach ((JsonNode? key, JsonNode? value) in items)
        {
            var names = new List<(string, JsonNode?)> { (loop.ValueName, value) };
            if (loop.KeyName is not null)
            {
                names.Add((loop.KeyName, key));
            }
            EvaluationScope inner = scope.With(names);
            if (loop.Condition is not null && !Bool(Evaluate(loop.Condition, inner)))
            {
                continue;
            }
            if (loop.Key is null)
            {
                tuple.Add(Evaluate(loop.Value, inner));
            }
            else
            {
                obj2[Text(Evaluate(loop.Key, inner))] = Evaluate(loop.Value, inner);
            }
        }
        return loop.Key is null ? tuple : obj2;
    }

    private static JsonNode? Literal(object? value) => value switch
    {
        null => null,
        string text => JsonValue.Create(text),
        decimal number => JsonValue.Create(number),
        bool flag => JsonValue.Create(flag),
        _ => throw new NotSupportedException(),
    };

    /// <summary>A value as a template interpolates it.</summary>
    public static string Text(JsonNode? value) => value switch
    {
        JsonValue scalar when scalar.TryGetValue(out string? text) => text,
        JsonValue scalar when Stacks.CanonicalJson.TryGetNumber(scalar, out decimal number) => number.ToString(CultureInfo.InvariantCulture),
        JsonValue scalar when scalar.TryGetValue(out bool flag) => flag ? "true" : "false",
        _ => throw new InvalidOperationException($"Cannot use {value?.ToJsonString() ?? "null"} as a string."),
    };

    private static decimal Number(JsonNode? value) => Stacks.CanonicalJson.TryGetNumber(value, out decimal number)
        ? number
        : throw new InvalidOperationException($"{value?.ToJsonString() ?? "null"} is not a number.");

    private static bool Bool(JsonNode? value) => value is JsonValue scalar && scalar.TryGetValue(out bool flag)
        ? flag
        : throw new InvalidOperationException($"{value?.ToJsonString() ?? "null"} is not a bool.");
}
