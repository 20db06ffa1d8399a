using System.Text.Json;
using System.Text.RegularExpressions;
using ShortcutPipeline.Infra.Tests.Bicep;
using ShortcutPipeline.Infra.Tests.Tooling;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Infra.Tests.Terraform;

/// <summary>
/// What `terraform validate` would catch, without Terraform (it cannot be installed here) and offline:
/// files that do not parse; references to undeclared variables, locals, modules, resources and data sources,
/// and to attributes that an azurerm resource does not have; azurerm arguments and blocks that the provider's
/// schema does not have, or required ones that are missing; azapi bodies that do not fit their Resource Manager
/// type; providers used but not required; and modules that are not local (registry modules need the network).
/// </summary>
public sealed partial class TerraformValidator(AzurermSchema azurerm, BicepCli bicep)
{
    /// <summary>Bicep diagnostics of generated azapi bodies, by the generated text (most broken copies leave the bodies alone).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<InfraDiagnostic>> bodyDiagnostics = new(StringComparer.Ordinal);

    private static readonly HashSet<string> MetaArguments = ["count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"];
    private static readonly HashSet<string> LifecycleArguments = ["create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by", "precondition", "postcondition"];
    private static readonly HashSet<string> DynamicArguments = ["for_each", "iterator", "content", "labels"];
    private static readonly HashSet<string> UncheckedRoots = ["each", "count", "self", "path", "terraform"];

    public async Task<IReadOnlyList<InfraDiagnostic>> ValidateAsync(string directory, CancellationToken cancellationToken)
    {
        TerraformConfiguration configuration = await TerraformConfiguration.LoadAsync(directory, cancellationToken);
        var diagnostics = new List<InfraDiagnostic>(configuration.ParseErrors);
        diagnostics.AddRange(CheckProviders(configuration));
        diagnostics.AddRange(CheckModules(configuration));
        diagnostics.AddRange(CheckReferences(configuration));
        diagnostics.AddRange(CheckAzurermBlocks(configuration));
        diagnostics.AddRange(CheckAzapiArguments(configuration));
        diagnostics.AddRange(await CheckAzapiBodiesAsync(configuration, cancellationToken));
        return diagnostics;
    }

    /// <summary>Local names of the providers in terraform.required_providers.</summary>
    private static HashSet<string> RequiredProviders(TerraformConfiguration configuration) =>
        configuration.Blocks.Where(block => block.Kind == "terraform")
            .SelectMany(block => block.TryGet("required_providers", out JsonElement providers) ? providers.EnumerateArray() : Enumerable.Empty<JsonElement>())
            .SelectMany(providers => providers.EnumerateObject().Select(provider => provider.Name))
            .ToHashSet(StringComparer.Ordinal);

    private static IEnumerable<InfraDiagnostic> CheckProviders(TerraformConfiguration configuration)
    {
        HashSet<string> required = RequiredProviders(configuration);
        foreach (TerraformBlock block in configuration.Blocks.Where(block => block.Kind is "resource" or "data" or "provider"))
        {
            string provider = block.Kind == "provider" ? block.Type : block.Type.Split('_')[0];
            if (!required.Contains(provider))
            {
                yield return new InfraDiagnostic(block.File, $"{block.Address}: provider '{provider}' is not in terraform.required_providers");
            }
        }
    }

    private static IEnumerable<InfraDiagnostic> CheckModules(TerraformConfiguration configuration)
    {
        foreach (TerraformBlock module in configuration.Modules)
        {
            string? source = module.GetString("source");
            if (source is null || !(source.StartsWith("./", StringComparison.Ordinal) || source.StartsWith("../", StringComparison.Ordinal)))
            {
                yield return new InfraDiagnostic(module.File, $"{module.Address}: source '{source}' is not a local path; registry and remote modules need the network");
            }
        }
    }

    private IEnumerable<InfraDiagnostic> CheckReferences(TerraformConfiguration configuration)
    {
        var declared = new HashSet<string>(StringComparer.Ordinal);
        declared.UnionWith(configuration.Variables.Select(block => "var." + block.Name));
        declared.UnionWith(configuration.Locals.Keys.Select(name => "local." + name));
        declared.UnionWith(configuration.Modules.Select(block => "module." + block.Name));
        declared.UnionWith(configuration.Resources.Select(block => block.Address));
        declared.UnionWith(configuration.DataSources.Select(block => block.Address));
        HashSet<string> providers = RequiredProviders(configuration);
        var resourceTypes = configuration.Resources.ToDictionary(block => block.Address, block => block.Type, StringComparer.Ordinal);

        IEnumerable<(string File, string Where, JsonElement Value)> scopes = configuration.Blocks
            .Select(block => (block.File, block.Address, block.Body))
            .Concat(configuration.Locals.Select(local => (configuration.LocalFiles[local.Key], "local." + local.Key, local.Value)));
        foreach ((string file, string where, JsonElement value) in scopes)
        {
            foreach ((string path, string text) in TerraformExpressions.Strings(value))
            {
                if (path == "type" && where.StartsWith("variable.", StringComparison.Ordinal) || path.StartsWith("lifecycle.ignore_changes", StringComparison.Ordinal))
                {
                    continue; // type constraints and ignore_changes name attributes, not values
                }
                foreach (TerraformReference reference in TerraformExpressions.References(text))
                {
                    string? problem = ReferenceProblem(reference, declared, providers, resourceTypes);
                    if (problem is not null)
                    {
                        yield return new InfraDiagnostic(file, $"{where} ({path}): {problem}");
                    }
                }
            }
        }
    }

    private string? ReferenceProblem(TerraformReference reference, HashSet<string> declared, HashSet<string> providers, Dictionary<string, string> resourceTypes)
    {
        IReadOnlyList<string> segments = reference.Segments;
        string Name(int index) => index < segments.Count ? segments[index] : "";
        switch (reference.Root)
        {
            case "var" or "local" or "module":
                string address = $"{reference.Root}.{Name(0)}";
                return declared.Contains(address) ? null : $"'{reference.Text}' refers to undeclared {address}";
            case "data":
                string dataAddress = $"data.{Name(0)}.{Name(1)}";
                return !declared.Contains(dataAddress)
                    ? $"'{reference.Text}' refers to undeclared {dataAddress}"
                    : AttributeProblem(reference, Name(0), segments.Skip(2));
            case var root when UncheckedRoots.Contains(root) || !root.Contains('_') || !providers.Contains(root.Split('_')[0]):
                return null; // an iteration variable, a keyword, or each/count/self
            default:
                string resourceAddress = $"{reference.Root}.{Name(0)}";
                return !resourceTypes.ContainsKey(resourceAddress)
                    ? $"'{reference.Text}' refers to undeclared resource {resourceAddress}"
                    : AttributeProblem(reference, reference.Root, segments.Skip(1));
        }
    }

    /// <summary>The first attribute read after the resource's address (and an optional index) must exist.</summary>
    private string? AttributeProblem(TerraformReference reference, string type, IEnumerable<string> rest)
    {
        string? attribute = rest.SkipWhile(segment => segment == "[]").FirstOrDefault();
        if (attribute is null || attribute == "[]")
        {
            return null;
        }
        IReadOnlySet<string>? readable = type == "azapi_resource"
            ? AzapiBodies.ReadableAttributes
            : azurerm.ReadableAttributes.GetValueOrDefault(type);
        return readable is null || readable.Contains(attribute)
            ? null
            : $"'{reference.Text}': {type} has no attribute '{attribute}'";
    }

    private IEnumerable<InfraDiagnostic> CheckAzurermBlocks(TerraformConfiguration configuration)
    {
        foreach (TerraformBlock block in configuration.Blocks)
        {
            BlockSchema? schema;
            switch (block.Kind)
            {
                case "resource" when block.Type.StartsWith("azurerm_", StringComparison.Ordinal):
                    schema = azurerm.Resources.GetValueOrDefault(block.Type);
                    break;
                case "data" when block.Type.StartsWith("azurerm_", StringComparison.Ordinal):
                    schema = azurerm.DataSources.GetValueOrDefault(block.Type);
                    break;
                case "provider" when block.Type == "azurerm":
                    schema = azurerm.Provider;
                    break;
                default:
                    continue;
            }
            if (schema is null)
            {
                yield return new InfraDiagnostic(block.File, $"{block.Address}: azurerm {azurerm.ProviderVersion} has no {block.Kind} type '{block.Type}'");
                continue;
            }
            foreach (string problem in BodyProblems(schema, block.Body, block.Address, topLevel: block.Kind != "provider"))
            {
                yield return new InfraDiagnostic(block.File, problem);
            }
        }
    }

    private static IEnumerable<string> BodyProblems(BlockSchema schema, JsonElement body, string where, bool topLevel)
    {
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty argument in body.EnumerateObject())
        {
            if (topLevel && MetaArguments.Contains(argument.Name))
            {
                if (argument.Name == "lifecycle")
                {
                    foreach (string unknown in UnknownKeys(argument.Value, LifecycleArguments))
                    {
                        yield return $"{where}: lifecycle has no argument '{unknown}'";
                    }
                }
                continue;
            }
            if (argument.Name == "dynamic")
            {
                foreach (JsonProperty dynamicBlock in argument.Value.EnumerateObject())
                {
                    present.Add(dynamicBlock.Name);
                    if (!schema.Blocks.TryGetValue(dynamicBlock.Name, out (BlockSchema Schema, bool Required) nested))
                    {
                        yield return $"{where}: dynamic \"{dynamicBlock.Name}\" names no block of this resource";
                        continue;
                    }
                    foreach (string unknown in UnknownKeys(dynamicBlock.Value, DynamicArguments))
                    {
                        yield return $"{where}.dynamic.{dynamicBlock.Name}: no argument '{unknown}'";
                    }
                    foreach (JsonElement content in dynamicBlock.Value.EnumerateArray()
                        .SelectMany(item => item.TryGetProperty("content", out JsonElement c) ? c.EnumerateArray() : Enumerable.Empty<JsonElement>()))
                    {
                        foreach (string problem in BodyProblems(nested.Schema, content, $"{where}.{dynamicBlock.Name}", topLevel: false))
                        {
                            yield return problem;
                        }
                    }
                }
                continue;
            }
            present.Add(argument.Name);
            if (schema.Attributes.ContainsKey(argument.Name))
            {
                if (argument.Value.ValueKind == JsonValueKind.Array && argument.Value.GetArrayLength() > 0
                    && argument.Value.EnumerateArray().All(item => item.ValueKind == JsonValueKind.Object))
                {
                    yield return $"{where}: '{argument.Name}' is an argument, not a block: write {argument.Name} = ...";
                }
            }
            else if (schema.Blocks.TryGetValue(argument.Name, out (BlockSchema Schema, bool Required) nested))
            {
                if (argument.Value.ValueKind != JsonValueKind.Array)
                {
                    yield return $"{where}: '{argument.Name}' is a block: write {argument.Name} {{ ... }}";
                    continue;
                }
                foreach (JsonElement item in argument.Value.EnumerateArray())
                {
                    foreach (string problem in BodyProblems(nested.Schema, item, $"{where}.{argument.Name}", topLevel: false))
                    {
                        yield return problem;
                    }
                }
            }
            else
            {
                string? suggestion = Closest(argument.Name, schema.Attributes.Keys.Concat(schema.Blocks.Keys));
                yield return $"{where}: unknown argument or block '{argument.Name}'" + (suggestion is null ? "" : $" (did you mean '{suggestion}'?)");
            }
        }
        foreach (string missing in schema.Attributes.Where(attribute => attribute.Value).Select(attribute => attribute.Key)
            .Concat(schema.Blocks.Where(block => block.Value.Required).Select(block => block.Key))
            .Where(name => !present.Contains(name) && name != "id"))
        {
            yield return $"{where}: required argument or block '{missing}' is missing";
        }
    }

    private static IEnumerable<string> UnknownKeys(JsonElement blocks, IReadOnlySet<string> known) =>
        (blocks.ValueKind == JsonValueKind.Array ? blocks.EnumerateArray() : Enumerable.Repeat(blocks, 1))
            .Where(item => item.ValueKind == JsonValueKind.Object)
            .SelectMany(item => item.EnumerateObject().Select(property => property.Name))
            .Where(name => !known.Contains(name));

    private static IEnumerable<InfraDiagnostic> CheckAzapiArguments(TerraformConfiguration configuration)
    {
        foreach (TerraformBlock block in configuration.Resources.Where(block => block.Type == "azapi_resource"))
        {
            foreach (JsonProperty argument in block.Body.EnumerateObject().Where(argument => !MetaArguments.Contains(argument.Name)))
            {
                if (!AzapiBodies.Arguments.Contains(argument.Name))
                {
                    yield return new InfraDiagnostic(block.File, $"{block.Address}: azapi_resource has no argument '{argument.Name}'");
                }
            }
            foreach (string missing in AzapiBodies.RequiredArguments.Where(name => !block.TryGet(name, out _)))
            {
                yield return new InfraDiagnostic(block.File, $"{block.Address}: required argument '{missing}' is missing");
            }
            if (block.TryGet("identity", out JsonElement identity))
            {
                foreach (string unknown in UnknownKeys(identity, AzapiBodies.IdentityArguments))
                {
                    yield return new InfraDiagnostic(block.File, $"{block.Address}.identity: no argument '{unknown}'");
                }
            }
        }
    }

    private async Task<IReadOnlyList<InfraDiagnostic>> CheckAzapiBodiesAsync(TerraformConfiguration configuration, CancellationToken cancellationToken)
    {
        var diagnostics = new List<InfraDiagnostic>();
        var generated = new Dictionary<string, TerraformBlock>(StringComparer.Ordinal);
        using var directory = new TempDirectory("shortcut-infra-");
        File.WriteAllText(Path.Combine(directory.Path, "bicepconfig.json"), """{ "analyzers": { "core": { "enabled": false } } }""");
        foreach (TerraformBlock block in configuration.Resources.Where(block => block.Type == "azapi_resource"))
        {
            string? type = block.GetString("type");
            if (type is null || type.Contains("${", StringComparison.Ordinal) || !ApiType().IsMatch(type))
            {
                diagnostics.Add(new InfraDiagnostic(block.File, $"{block.Address}: type must be a literal '<namespace>/<type>@<api-version>', not '{type}'"));
                continue;
            }
            JsonElement body = block.TryGet("body", out JsonElement value) ? value : default;
            if (body.ValueKind is not (JsonValueKind.Object or JsonValueKind.Undefined))
            {
                diagnostics.Add(new InfraDiagnostic(block.File, $"{block.Address}: body must be an object (azapi 2.x), not an expression"));
                continue;
            }
            string fileName = $"{block.Name}.bicep";
            generated[fileName] = block;
            File.WriteAllText(Path.Combine(directory.Path, fileName), AzapiBodies.ToBicep(type, body, block.TryGet("location", out _)));
        }
        if (generated.Count == 0)
        {
            return diagnostics;
        }
        string key = string.Join('\n', generated.Keys.Order(StringComparer.Ordinal).Select(name => name + "\n" + File.ReadAllText(Path.Combine(directory.Path, name))));
        if (!bodyDiagnostics.TryGetValue(key, out IReadOnlyList<InfraDiagnostic>? built))
        {
            built = await bicep.BuildAsync(directory.Path, "*.bicep", cancellationToken);
            bodyDiagnostics[key] = built;
        }
        foreach (InfraDiagnostic found in built)
        {
            string fileName = found.File.Split('(')[0];
            TerraformBlock? block = generated.GetValueOrDefault(fileName);
            diagnostics.Add(block is null
                ? found
                : new InfraDiagnostic(block.File, $"{block.Address} body ({block.GetString("type")}): {found.Message}"));
        }
        return diagnostics;
    }

    /// <summary>The known name closest to a misspelled one, if it is close.</summary>
    private static string? Closest(string name, IEnumerable<string> known) =>
        known.Select(candidate => (candidate, distance: Distance(name, candidate)))
            .Where(found => found.distance <= Math.Max(2, name.Length / 4))
            .OrderBy(found => found.distance)
            .Select(found => found.candidate)
            .FirstOrDefault();

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    [GeneratedRegex(@"^[A-Za-z0-9.]+(/[A-Za-z0-9]+)+@\d{4}-\d{2}-\d{2}(-preview)?$")]
    private static partial Regex ApiType();
}
