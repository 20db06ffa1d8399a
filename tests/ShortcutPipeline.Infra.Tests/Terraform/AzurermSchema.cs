using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ShortcutPipeline.Infra.Tests.Terraform;

/// <summary>The arguments and nested blocks that one Terraform block (a resource, or a block inside one) accepts.</summary>
public sealed class BlockSchema
{
    /// <summary>Argument name (snake_case) to whether it is required.</summary>
    public Dictionary<string, bool> Attributes { get; } = new(StringComparer.Ordinal);

    /// <summary>Nested block name to its schema and whether it is required.</summary>
    public Dictionary<string, (BlockSchema Schema, bool Required)> Blocks { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The azurerm provider's schema, read from the jsii manifest (.jsii) of the npm package @cdktf/provider-azurerm,
/// which is generated from the provider's own schema: each resource class names its Terraform type, its config
/// struct lists the arguments (required or optional) and nested blocks (structs of their own), and the
/// class's properties are the attributes that other blocks may read.
/// </summary>
public sealed partial class AzurermSchema
{
    private const string AssemblyPrefix = "@cdktf/provider-azurerm.";
    private readonly Dictionary<string, BlockSchema> structs = new(StringComparer.Ordinal);

    private AzurermSchema()
    {
    }

    /// <summary>The azurerm provider version that the package was generated from.</summary>
    public string ProviderVersion { get; private set; } = "";

    public Dictionary<string, BlockSchema> Resources { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, BlockSchema> DataSources { get; } = new(StringComparer.Ordinal);

    /// <summary>The provider "azurerm" block.</summary>
    public BlockSchema Provider { get; private set; } = new();

    /// <summary>Resource or data source type to the attributes (snake_case) that references may read.</summary>
    public Dictionary<string, HashSet<string>> ReadableAttributes { get; } = new(StringComparer.Ordinal);

    public static AzurermSchema Load(string packageDirectory)
    {
        using FileStream stream = File.OpenRead(Path.Combine(packageDirectory, ".jsii"));
        using JsonDocument manifest = JsonDocument.Parse(stream);
        JsonElement types = manifest.RootElement.GetProperty("types");
        var schema = new AzurermSchema();
        foreach (JsonProperty type in types.EnumerateObject())
        {
            schema.AddClass(types, type.Value);
        }
        if (schema.Resources.Count == 0 || schema.Provider.Attributes.Count == 0)
        {
            throw new InvalidDataException($"No azurerm resources found in {packageDirectory}/.jsii: has the package's layout changed?");
        }
        return schema;
    }

    private void AddClass(JsonElement types, JsonElement type)
    {
        if (type.GetProperty("kind").GetString() != "class"
            || !type.TryGetProperty("docs", out JsonElement docs)
            || !docs.TryGetProperty("summary", out JsonElement summary))
        {
            return;
        }
        Match match = ClassSummary().Match(summary.GetString()!);
        if (!match.Success || !type.TryGetProperty("initializer", out JsonElement initializer))
        {
            return;
        }
        string configFqn = initializer.GetProperty("parameters").EnumerateArray()
            .Single(parameter => parameter.GetProperty("name").GetString() == "config")
            .GetProperty("type").GetProperty("fqn").GetString()!;
        BlockSchema config = Struct(types, configFqn);
        string terraformType = match.Groups["type"].Value;
        switch (match.Groups["kind"].Value)
        {
            case "/resources/":
                Resources[terraformType] = config;
                break;
            case "/data-sources/":
                DataSources[terraformType] = config;
                break;
            default:
                Provider = config;
                ProviderVersion = match.Groups["version"].Value;
                return;
        }
        ReadableAttributes[terraformType] = type.TryGetProperty("properties", out JsonElement properties)
            ? properties.EnumerateArray()
                .Where(property => !property.TryGetProperty("static", out JsonElement isStatic) || !isStatic.GetBoolean())
                .Select(property => SnakeCase(property.GetProperty("name").GetString()!))
                .ToHashSet(StringComparer.Ordinal)
            : [];
    }

    private BlockSchema Struct(JsonElement types, string fqn)
    {
        if (structs.TryGetValue(fqn, out BlockSchema? known))
        {
            return known;
        }
        var schema = new BlockSchema();
        structs[fqn] = schema;
        JsonElement type = types.GetProperty(fqn);
        if (!type.TryGetProperty("properties", out JsonElement properties))
        {
            return schema;
        }
        foreach (JsonElement property in properties.EnumerateArray())
        {
            string name = TerraformName(property);
            bool required = !property.TryGetProperty("optional", out JsonElement optional) || !optional.GetBoolean();
            string? blockFqn = BlockType(property.GetProperty("type"));
            if (blockFqn is not null && IsDataType(types, blockFqn))
            {
                schema.Blocks[name] = (Struct(types, blockFqn), required);
            }
            else
            {
                schema.Attributes[name] = required;
            }
        }
        return schema;
    }

    private static bool IsDataType(JsonElement types, string fqn) =>
        types.TryGetProperty(fqn, out JsonElement type)
        && type.TryGetProperty("datatype", out JsonElement datatype) && datatype.GetBoolean();

    /// <summary>The provider struct that a property's type names, directly, as a list element or in a union.</summary>
    private static string? BlockType(JsonElement type)
    {
        if (type.TryGetProperty("fqn", out JsonElement fqn))
        {
            string name = fqn.GetString()!;
            return name.StartsWith(AssemblyPrefix, StringComparison.Ordinal) ? name : null;
        }
        if (type.TryGetProperty("collection", out JsonElement collection))
        {
            return BlockType(collection.GetProperty("elementtype"));
        }
        if (type.TryGetProperty("union", out JsonElement union))
        {
            return union.GetProperty("types").EnumerateArray().Select(BlockType).FirstOrDefault(found => found is not null);
        }
        return null;
    }

    /// <summary>The snake_case name from the property's documentation link (…#max_replicas ContainerApp#max_replicas}).</summary>
    private static string TerraformName(JsonElement property)
    {
        JsonElement docs = property.GetProperty("docs");
        foreach (string field in new[] { "remarks", "summary" })
        {
            if (docs.TryGetProperty(field, out JsonElement text))
            {
                Match anchor = DocumentationAnchor().Match(text.GetString()!);
                if (anchor.Success)
                {
                    return anchor.Groups["name"].Value;
                }
            }
        }
        return SnakeCase(property.GetProperty("name").GetString()!);
    }

    /// <summary>primaryBlobEndpoint → primary_blob_endpoint (the jsii property names are camelCase Terraform names).</summary>
    public static string SnakeCase(string camelCase)
    {
        var builder = new StringBuilder(camelCase.Length + 8);
        foreach (char character in camelCase)
        {
            if (char.IsUpper(character))
            {
                builder.Append('_').Append(char.ToLowerInvariant(character));
            }
            else
            {
                builder.Append(character);
            }
        }
        return builder.ToString();
    }

    [GeneratedRegex(@"^Represents a \{@link https://registry\.terraform\.io/providers/hashicorp/azurerm/(?<version>[^/]+)/docs(?<kind>/resources/|/data-sources/|)\S* (?<type>azurerm\w*)\}")]
    private static partial Regex ClassSummary();

    [GeneratedRegex(@"#(?<name>[a-z0-9_]+)\}")]
    private static partial Regex DocumentationAnchor();
}
