using System.Globalization;
using System.Text;

namespace ShortcutPipeline.Infra.Tests.Terraform;

/// <summary>A parsed HCL expression (the subset of Terraform's native syntax that the stack uses).</summary>
public abstract record HclExpression
{
    /// <summary>Parses one expression, the text inside a ${...} interpolation.</summary>
    /// <exception cref="FormatException">The text is not an expression of the supported subset.</exception>
    public static HclExpression Parse(string text) => new HclParser(text).ParseWhole();

    /// <summary>
    /// Parses a string as @cdktf/hcl2json writes it: a template of literal text and ${...} interpolations. A string
    /// that is one interpolation only is that expression (of any type); anything else is a string.
    /// </summary>
    public static HclExpression ParseTemplate(string value)
    {
        string? whole = TerraformExpressions.WholeExpression(value);
        return whole is not null ? Parse(whole) : new HclParser(value).ParseTemplateText();
    }
}

/// <summary>A number, string, bool or null.</summary>
public sealed record HclLiteral(object? Value) : HclExpression;

/// <summary>A string template: literal parts and interpolated expressions, in order.</summary>
public sealed record HclTemplate(IReadOnlyList<HclExpression> Parts) : HclExpression;

/// <summary>A name: var, local, each, a resource type, an iteration variable.</summary>
public sealed record HclName(string Name) : HclExpression;

/// <summary>target.name.</summary>
public sealed record HclAttribute(HclExpression Target, string Name) : HclExpression;

/// <summary>target[key].</summary>
public sealed record HclIndex(HclExpression Target, HclExpression Key) : HclExpression;

/// <summary>name(arguments).</summary>
public sealed record HclCall(string Function, IReadOnlyList<HclExpression> Arguments) : HclExpression;

/// <summary>A unary (!, -) or binary operator.</summary>
public sealed record HclOperator(string Operator, IReadOnlyList<HclExpression> Operands) : HclExpression;

/// <summary>condition ? whenTrue : whenFalse.</summary>
public sealed record HclConditional(HclExpression Condition, HclExpression WhenTrue, HclExpression WhenFalse) : HclExpression;

/// <summary>[a, b, c].</summary>
public sealed record HclTuple(IReadOnlyList<HclExpression> Items) : HclExpression;

/// <summary>{ key = value, ... }; a key is a name or an expression.</summary>
public sealed record HclObject(IReadOnlyList<(HclExpression Key, HclExpression Value)> Items) : HclExpression;

/// <summary>[for k, v in collection : value if condition] or { for k, v in collection : key => value if condition }.</summary>
public sealed record HclFor(string? KeyName, string ValueName, HclExpression Collection, HclExpression? Key, HclExpression Value, HclExpression? Condition) : HclExpression;

/// <summary>A recursive-descent parser of HCL expressions and templates.</summary>
internal sealed class HclParser(string text)
{
    private static readonly string[][] BinaryLevels =
    [
        ["||"], ["&&"], ["==", "!="], ["<=", ">=", "<", ">"], ["+", "-"], ["*", "/", "%"],
    ];

    private int position;

    public HclExpression ParseWhole()
    {
        HclExpression expression = ParseExpression();
        SkipSpace();
        return position == text.Length ? expression : throw Error("unexpected text");
    }

    public HclExpression ParseTemplateText()
    {
        var parts = new List<HclExpression>();
        var literal = new StringBuilder();
        while (position < text.Length)
        {
            if (Peek("$${"))
            {
                literal.Append("${");
                position += 3;
            }
            else if (Peek("${"))
            {
                Flush();
                position += 2;
                parts.Add(ParseExpression());
                SkipSpace();
                Expect("}");
            }
            else
            {
                literal.Append(text[position++]);
            }
        }
        Flush();
        return parts.Count == 1 && parts[0] is HclLiteral { Value: string } ? parts[0] : new HclTemplate(parts);

        void Flush()
        {
            if (literal.Length > 0)
            {
                parts.Add(new HclLiteral(literal.ToString()));
                literal.Clear();
            }
        }
    }

    private HclExpression ParseExpression()
    {
        HclExpression condition = ParseBinary(0);
        SkipSpace();
        if (!Accept("?"))
        {
            return condition;
        }
        HclExpression whenTrue = ParseExpression();
        SkipSpace();
        Expect(":");
        return new HclConditional(condition, whenTrue, ParseExpression());
    }

    private HclExpression ParseBinary(int level)
    {
        if (level == BinaryLevels.Length)
        {
            return ParseUnary();
        }
        HclExpression left = ParseBinary(level + 1);
        while (true)
        {
            SkipSpace();
            string? found = BinaryLevels[level].FirstOrDefault(Peek);
            if (found is null)
            {
                return left;
            }
            position += found.Length;
            left = new HclOperator(found, [left, ParseBinary(level + 1)]);
        }
    }

    private HclExpression ParseUnary()
    {
        SkipSpace();
        if (Accept("!"))
        {
            return new HclOperator("!", [ParseUnary()]);
        }
        if (Peek("-") && !char.IsDigit(PeekChar(1)))
        {
            position++;
            return new HclOperator("-", [ParseUnary()]);
        }
        return ParsePostfix(ParsePrimary());
    }

    private HclExpression ParsePostfix(HclExpression target)
    {
        while (true)
        {
            if (Accept("."))
            {
                target = char.IsDigit(PeekChar(0))
                    ? new HclIndex(target, new HclLiteral(ParseNumber()))
                    : new HclAttribute(target, ParseIdentifier());
            }
            else if (Peek("["))
            {
                position++;
                HclExpression key = ParseExpression();
                SkipSpace();
                Expect("]");
                target = new HclIndex(target, key);
            }
            else
            {
                return target;
            }
        }
    }

    private HclExpression ParsePrimary()
    {
        SkipSpace();
        char c = PeekChar(0);
        if (c == '"')
        {
            return ParseQuoted();
        }
        if (char.IsDigit(c) || (c == '-' && char.IsDigit(PeekChar(1))))
        {
            return new HclLiteral(ParseNumber());
        }
        if (Accept("("))
        {
            HclExpression inner = ParseExpression();
            SkipSpace();
            Expect(")");
            return inner;
        }
        if (Accept("["))
        {
            return ParseTupleOrFor();
        }
        if (Accept("{"))
        {
            return ParseObjectOrFor();
        }
        string name = ParseIdentifier();
        switch (name)
        {
            case "true":
                return new HclLiteral(true);
            case "false":
                return new HclLiteral(false);
            case "null":
                return new HclLiteral(null);
        }
        SkipSpace();
        if (!Accept("("))
        {
            return new HclName(name);
        }
        var arguments = new List<HclExpression>();
        SkipSpace();
        while (!Accept(")"))
        {
            arguments.Add(ParseExpression());
            SkipSpace();
            if (!Accept(","))
            {
                Expect(")");
                break;
            }
            SkipSpace();
        }
        return new HclCall(name, arguments);
    }

    private HclExpression ParseTupleOrFor()
    {
        SkipSpace();
        if (PeekKeyword("for"))
        {
            return ParseFor("]", objectForm: false);
        }
        var items = new List<HclExpression>();
        while (true)
        {
            SkipSpace();
            if (Accept("]"))
            {
                return new HclTuple(items);
            }
            items.Add(ParseExpression());
            SkipSpace();
            if (!Accept(","))
            {
                Expect("]");
                return new HclTuple(items);
            }
        }
    }

    private HclExpression ParseObjectOrFor()
    {
        SkipSpace();
        if (PeekKeyword("for"))
        {
            return ParseFor("}", objectForm: true);
        }
        var items = new List<(HclExpression, HclExpression)>();
        while (true)
        {
            SkipSpace();
            if (Accept("}"))
            {
                return new HclObject(items);
            }
            HclExpression key = IsIdentifierStart(PeekChar(0)) ? new HclLiteral(ParseIdentifier()) : ParseExpression();
            SkipSpace();
            if (!Accept("=") && !Accept(":"))
            {
                throw Error("expected = in an object");
            }
            items.Add((key, ParseExpression()));
            SkipSpace();
            Accept(",");
        }
    }

    private HclFor ParseFor(string close, bool objectForm)
    {
        position += 3;
        SkipSpace();
        string first = ParseIdentifier();
        SkipSpace();
        string? keyName = null;
        string valueName = first;
        if (Accept(","))
        {
            SkipSpace();
            keyName = first;
            valueName = ParseIdentifier();
            SkipSpace();
        }
        if (!PeekKeyword("in"))
        {
            throw Error("expected 'in'");
        }
        position += 2;
        HclExpression collection = ParseExpression();
        SkipSpace();
        Expect(":");
        HclExpression? key = null;
        HclExpression value = ParseExpression();
        SkipSpace();
        if (objectForm)
        {
            Expect("=>");
            key = value;
            value = ParseExpression();
            SkipSpace();
        }
        HclExpression? condition = null;
        if (PeekKeyword("if"))
        {
            position += 2;
            condition = ParseExpression();
            SkipSpace();
        }
        Expect(close);
        return new HclFor(keyName, valueName, collection, key, value, condition);
    }

    private HclExpression ParseQuoted()
    {
        position++; // the opening quote
        var parts = new List<HclExpression>();
        var literal = new StringBuilder();
        while (true)
        {
            if (position >= text.Length)
            {
                throw Error("unterminated string");
            }
            char c = text[position];
            if (c == '"')
            {
                position++;
                break;
            }
            if (c == '\\')
            {
                literal.Append(Unescape(text[position + 1]));
                position += 2;
            }
            else if (Peek("$${"))
            {
                literal.Append("${");
                position += 3;
            }
            else if (Peek("${"))
            {
                if (literal.Length > 0)
                {
                    parts.Add(new HclLiteral(literal.ToString()));
                    literal.Clear();
                }
                position += 2;
                parts.Add(ParseExpression());
                SkipSpace();
                Expect("}");
            }
            else
            {
                literal.Append(c);
                position++;
            }
        }
        if (parts.Count == 0)
        {
            return new HclLiteral(literal.ToString());
        }
        if (literal.Length > 0)
        {
            parts.Add(new HclLiteral(literal.ToString()));
        }
        return new HclTemplate(parts);
    }

    private static char Unescape(char escaped) => escaped switch
    {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        _ => escaped,
    };

    private decimal ParseNumber()
    {
        int start = position;
        if (PeekChar(0) == '-')
        {
            position++;
        }
        while (char.IsDigit(PeekChar(0)) || PeekChar(0) == '.' && char.IsDigit(PeekChar(1)))
        {
            position++;
        }
        return decimal.Parse(text[start..position], NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
    }

    private string ParseIdentifier()
    {
        SkipSpace();
        int start = position;
        if (!IsIdentifierStart(PeekChar(0)))
        {
            throw Error("expected a name");
        }
        while (char.IsLetterOrDigit(PeekChar(0)) || PeekChar(0) is '_' or '-')
        {
            position++;
        }
        return text[start..position];
    }

    private static bool IsIdentifierStart(char c) => char.IsLetter(c) || c == '_';

    private bool PeekKeyword(string keyword) =>
        Peek(keyword) && !char.IsLetterOrDigit(PeekChar(keyword.Length)) && PeekChar(keyword.Length) != '_';

    private bool Peek(string expected) => string.CompareOrdinal(text, position, expected, 0, expected.Length) == 0;

    private char PeekChar(int offset) => position + offset < text.Length ? text[position + offset] : '\0';

    private bool Accept(string expected)
    {
        if (!Peek(expected))
        {
            return false;
        }
        position += expected.Length;
        return true;
    }

    private void Expect(string expected)
    {
        if (!Accept(expected))
        {
            throw Error($"expected '{expected}'");
        }
    }

    private void SkipSpace()
    {
        while (position < text.Length && char.IsWhiteSpace(text[position]))
        {
            position++;
        }
    }

    private FormatException Error(string problem) =>
        new($"{problem} at {position} in '{text}' (the infrastructure tests read a subset of HCL: see HclExpression).");
}
