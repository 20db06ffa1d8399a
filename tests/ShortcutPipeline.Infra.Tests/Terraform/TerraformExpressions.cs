using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ShortcutPipeline.Infra.Tests.Terraform;

/// <summary>A reference in a Terraform expression: its first name and the names and indexes after it.</summary>
/// <param name="Root">var, local, module, data, each, a resource type, an iteration variable…</param>
/// <param name="Segments">The attribute names after the root; an index ([0], ["a"]) is written as "[]".</param>
/// <param name="Text">The reference as written.</param>
public sealed record TerraformReference(string Root, IReadOnlyList<string> Segments, string Text);

/// <summary>Reads the expressions that @cdktf/hcl2json leaves as strings ("x-${var.a}", "${local.b}").</summary>
public static partial class TerraformExpressions
{
    /// <summary>Every string value anywhere inside a JSON value, with the path of object keys that leads to it.</summary>
    public static IEnumerable<(string Path, string Value)> Strings(JsonElement value, string path = "")
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                yield return (path, value.GetString()!);
                break;
            case JsonValueKind.Array:
                foreach (JsonElement item in value.EnumerateArray())
                {
                    foreach ((string Path, string Value) found in Strings(item, path))
                    {
                        yield return found;
                    }
                }
                break;
            case JsonValueKind.Object:
                foreach (JsonProperty property in value.EnumerateObject())
                {
                    foreach ((string Path, string Value) found in Strings(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}"))
                    {
                        yield return found;
                    }
                }
                break;
        }
    }

    /// <summary>
    /// The code of a string value: the text inside its ${...} interpolations, with the quoted string
    /// literals inside that code blanked out (their own interpolations kept). Template text outside
    /// ${...} is not code and is dropped.
    /// </summary>
    public static string Code(string value)
    {
        var code = new StringBuilder();
        // The stack holds what each open level is: 'T' template text, 'C' code, 'B' a brace inside code, 'S' a string literal inside code.
        var levels = new Stack<char>();
        levels.Push('T');
        for (int i = 0; i < value.Length; i++)
        {
            char level = levels.Peek();
            char c = value[i];
            bool opensInterpolation = c == '$' && i + 1 < value.Length && value[i + 1] == '{';
            if (level is 'T' or 'S')
            {
                if (opensInterpolation && i > 0 && value[i - 1] == '$')
                {
                    continue; // $${ is an escaped, literal ${
                }
                if (opensInterpolation)
                {
                    levels.Push('C');
                    code.Append(' ');
                    i++;
                }
                else if (level == 'S' && c == '\\')
                {
                    i++;
                }
                else if (level == 'S' && c == '"')
                {
                    levels.Pop();
                    code.Append(' ');
                }
                continue;
            }
            switch (c)
            {
                case '"':
                    levels.Push('S');
                    code.Append(' ');
                    break;
                case '{':
                    levels.Push('B');
                    code.Append(c);
                    break;
                case '}':
                    levels.Pop();
                    code.Append(level == 'B' ? '}' : ' ');
                    break;
                default:
                    code.Append(c);
                    break;
            }
        }
        return code.ToString();
    }

    /// <summary>The references (traversals) in a string value's code, including those inside index brackets.</summary>
    public static IEnumerable<TerraformReference> References(string value) => ReferencesInCode(Code(value));

    private static IEnumerable<TerraformReference> ReferencesInCode(string code)
    {
        foreach (Match match in Traversal().Matches(code))
        {
            var segments = new List<string>();
            foreach (Match part in TraversalPart().Matches(match.Groups["rest"].Value))
            {
                if (part.Groups["name"].Success)
                {
                    segments.Add(part.Groups["name"].Value);
                    continue;
                }
                segments.Add("[]");
                foreach (TerraformReference inner in ReferencesInCode(part.Groups["index"].Value))
                {
                    yield return inner;
                }
            }
            yield return new TerraformReference(match.Groups["root"].Value, segments, match.Value);
        }
    }

    /// <summary>If the whole value is one interpolation ("${expr}"), the expression; otherwise null.</summary>
    public static string? WholeExpression(string value)
    {
        if (!value.StartsWith("${", StringComparison.Ordinal))
        {
            return null;
        }
        var levels = new Stack<char>();
        levels.Push('C');
        for (int i = 2; i < value.Length; i++)
        {
            char c = value[i];
            if (levels.Peek() == 'S')
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    levels.Pop();
                }
                else if (c == '$' && i + 1 < value.Length && value[i + 1] == '{')
                {
                    levels.Push('C');
                    i++;
                }
                continue;
            }
            if (c == '"')
            {
                levels.Push('S');
            }
            else if (c == '{')
            {
                levels.Push('B');
            }
            else if (c == '}')
            {
                levels.Pop();
                if (levels.Count == 0)
                {
                    return i == value.Length - 1 ? value[2..i].Trim() : null;
                }
            }
        }
        return null;
    }

    [GeneratedRegex(@"(?<![\w.\]\)])(?<root>[A-Za-z_][\w-]*)(?![\w-])(?<rest>(?>(?:\s*\.\s*[A-Za-z_][\w-]*|\[[^\[\]]*\])*))(?!\s*\()")]
    private static partial Regex Traversal();

    [GeneratedRegex(@"\.\s*(?<name>[A-Za-z_][\w-]*)|\[(?<index>[^\[\]]*)\]")]
    private static partial Regex TraversalPart();
}
