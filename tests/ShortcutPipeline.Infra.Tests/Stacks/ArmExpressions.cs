using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>
/// Turns the values of a Bicep snapshot into comparable form: literals stay, the expressions that only a deployment
/// can evaluate (reference('id', 'api').path, format(), concat()) and resource ids become <see cref="ArmToken"/>s.
/// </summary>
public sealed class ArmExpressions
{
    private readonly IReadOnlyDictionary<string, int> typeCounts;
    private readonly IReadOnlyDictionary<string, string> typesByName;

    /// <param name="resources">The snapshot's predicted resources (type and name).</param>
    public ArmExpressions(IEnumerable<(string Type, string Name)> resources)
    {
        List<(string Type, string Name)> all = resources.ToList();
        typeCounts = all.GroupBy(resource => resource.Type, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(group => group.Key, group => group.Count(), StringComparer.OrdinalIgnoreCase);
        typesByName = all.Where(resource => !resource.Name.Contains('[', StringComparison.Ordinal))
            .GroupBy(resource => resource.Name, StringComparer.Ordinal)
            .Where(group => group.Count() == 1)
            .ToDictionary(group => group.Key, group => group.Single().Type, StringComparer.Ordinal);
    }

    /// <summary>A snapshot value (an object, list or scalar) with every string normalised.</summary>
    public JsonNode? Normalise(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => new JsonObject(value.EnumerateObject().Select(property => KeyValuePair.Create(property.Name, Normalise(property.Value)))),
        JsonValueKind.Array => new JsonArray(value.EnumerateArray().Select(Normalise).ToArray()),
        JsonValueKind.String => JsonValue.Create(NormaliseString(value.GetString()!)),
        _ => Terraform.TerraformEvaluator.ToNode(value),
    };

    /// <summary>One string: an ARM expression "[...]", a resource id, the name of a resource of the snapshot, or a literal.</summary>
    public string NormaliseString(string value)
    {
        if (value.StartsWith('[') && value.EndsWith(']') && !value.StartsWith("[[", StringComparison.Ordinal))
        {
            return Text(new ExpressionReader(value[1..^1], this).Read());
        }
        if (ArmToken.ParseResourceId(value) is (string type, string name))
        {
            return Token(type, name, "id");
        }
        return typesByName.TryGetValue(value, out string? named) ? Token(named, value, "name") : value;
    }

    /// <summary>The token of a property of the resource with id <paramref name="id"/>.</summary>
    public string Token(string type, string name, string path) =>
        ArmToken.Of(type, name, typeCounts.GetValueOrDefault(type) == 1, path);

    private static string Text(object? value) => value switch
    {
        string text => text,
        Reference reference => reference.Token(),
        decimal number => number.ToString(CultureInfo.InvariantCulture),
        bool flag => flag ? "true" : "false",
        _ => ArmToken.Opaque("null"),
    };

    /// <summary>reference('id', 'api'), and the properties read from it so far.</summary>
    private sealed record Reference(ArmExpressions Owner, string Id, IReadOnlyList<string> Path)
    {
        public string Token() => ArmToken.ParseResourceId(Id) is (string type, string name)
            ? Owner.Token(type, name, string.Join('.', Path))
            : ArmToken.Opaque($"reference({Id}).{string.Join('.', Path)}");
    }

    /// <summary>A reader of the ARM expression language: function calls, 'strings', numbers and .property access.</summary>
    private sealed class ExpressionReader(string text, ArmExpressions owner)
    {
        private int position;

        public object? Read()
        {
            object? value = ReadValue();
            Skip();
            return position == text.Length ? value : ArmToken.Opaque(text);
        }

        private object? ReadValue()
        {
            Skip();
            object? value;
            if (Peek('\''))
            {
                value = ReadString();
            }
            else if (char.IsDigit(Current) || Current == '-')
            {
                int start = position++;
                while (char.IsDigit(Current) || Current == '.')
                {
                    position++;
                }
                value = decimal.Parse(text[start..position], CultureInfo.InvariantCulture);
            }
            else
            {
                string name = ReadName();
                Skip();
                value = name switch
                {
                    "true" => true,
                    "false" => false,
                    "null" => null,
                    _ => Call(name, ReadArguments()),
                };
            }
            while (true)
            {
                Skip();
                if (Peek('.'))
                {
                    position++;
                    string property = ReadName();
                    value = value is Reference reference ? reference with { Path = [.. reference.Path, property] } : ArmToken.Opaque($"{Text(value)}.{property}");
                }
                else if (Peek('['))
                {
                    position++;
                    object? index = ReadValue();
                    Skip();
                    position++; // ]
                    value = ArmToken.Opaque($"{Text(value)}[{Text(index)}]");
                }
                else
                {
                    return value;
                }
            }
        }

        private List<object?> ReadArguments()
        {
            var arguments = new List<object?>();
            position++; // (
            while (true)
            {
                Skip();
                if (Peek(')'))
                {
                    position++;
                    return arguments;
                }
                arguments.Add(ReadValue());
                Skip();
                if (Peek(','))
                {
                    position++;
                }
            }
        }

        private object? Call(string function, List<object?> arguments) => function switch
        {
            "reference" when arguments is [string id, ..] => new Reference(owner, id, []),
            "format" when arguments is [string format, ..] => Format(format, arguments.Skip(1).Select(Text).ToArray()),
            "concat" => string.Concat(arguments.Select(Text)),
            _ => ArmToken.Opaque($"{function}({string.Join(", ", arguments.Select(Text))})"),
        };

        private static string Format(string format, string[] arguments)
        {
            var formatted = new StringBuilder();
            for (int i = 0; i < format.Length; i++)
            {
                if (format[i] == '{' && i + 1 < format.Length && char.IsDigit(format[i + 1]))
                {
                    int end = format.IndexOf('}', i);
                    formatted.Append(arguments[int.Parse(format[(i + 1)..end], CultureInfo.InvariantCulture)]);
                    i = end;
                }
                else
                {
                    formatted.Append(format[i]);
                }
            }
            return formatted.ToString();
        }

        private string ReadString()
        {
            var value = new StringBuilder();
            position++;
            while (position < text.Length)
            {
                if (Peek('\''))
                {
                    if (position + 1 < text.Length && text[position + 1] == '\'')
                    {
                        value.Append('\'');
                        position += 2;
                        continue;
                    }
                    position++;
                    break;
                }
                value.Append(text[position++]);
            }
            return value.ToString();
        }

        private string ReadName()
        {
            int start = position;
            while (char.IsLetterOrDigit(Current) || Current == '_')
            {
                position++;
            }
            return text[start..position];
        }

        private char Current => position < text.Length ? text[position] : '\0';

        private bool Peek(char c) => Current == c;

        private void Skip()
        {
            while (char.IsWhiteSpace(Current))
            {
                position++;
            }
        }
    }
}
