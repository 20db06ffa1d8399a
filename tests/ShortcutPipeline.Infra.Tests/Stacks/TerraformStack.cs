using System.Text.Json;
using System.Text.RegularExpressions;
using ShortcutPipeline.Infra.Tests.Terraform;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>
/// Reads a <see cref="StackDescription"/> from the Terraform stack. Terraform cannot run here, so this reads
/// the few expression forms that the stack uses for counts, names and settings, and fails on any other form
/// rather than guess: literal values, local.x paths, toset(local.x), var.x ? 1 : 0, merge(local.a, local.b)
/// and [for k, v in local.x : { name = k, value = v }].
/// </summary>
public static partial class TerraformStack
{
    /// <summary>The Resource Manager type that each azurerm resource type of the stack creates.</summary>
    public static IReadOnlyDictionary<string, string> ArmTypes { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["azurerm_storage_account"] = "Microsoft.Storage/storageAccounts",
        ["azurerm_storage_container"] = ArmShapes.Containers,
        ["azurerm_storage_queue"] = ArmShapes.Queues,
        ["azurerm_role_assignment"] = "Microsoft.Authorization/roleAssignments",
        ["azurerm_user_assigned_identity"] = "Microsoft.ManagedIdentity/userAssignedIdentities",
        ["azurerm_log_analytics_workspace"] = "Microsoft.OperationalInsights/workspaces",
        ["azurerm_application_insights"] = "Microsoft.Insights/components",
        ["azurerm_container_registry"] = "Microsoft.ContainerRegistry/registries",
        ["azurerm_service_plan"] = "Microsoft.Web/serverfarms",
        ["azurerm_function_app_flex_consumption"] = ArmShapes.FunctionApp,
    };

    /// <summary>Terraform variables with no Bicep parameter: Bicep deploys at resource-group scope.</summary>
    public static IReadOnlySet<string> ScopeVariables { get; } = new HashSet<string>(StringComparer.Ordinal) { "resource_group_name" };

    public static StackDescription Describe(TerraformConfiguration configuration)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var storageNames = ArmShapes.StorageChildTypes.ToDictionary(type => type, _ => new HashSet<string>(StringComparer.Ordinal));
        var settings = new Dictionary<PipelineApp, IReadOnlySet<string>>();
        var scaleRules = new Dictionary<PipelineApp, IReadOnlyList<QueueScaleRule>>();
        string runtime = "";
        foreach (TerraformBlock resource in configuration.Resources)
        {
            string armType = ArmTypeOf(resource);
            int instances = InstanceCount(configuration, resource);
            counts[armType] = counts.GetValueOrDefault(armType) + instances;
            if (storageNames.TryGetValue(armType, out HashSet<string>? names))
            {
                names.UnionWith(InstanceNames(configuration, resource));
            }
            PipelineApp? app = ArmShapes.AppOf(armType);
            if (app == PipelineApp.Functions)
            {
                var appSettings = SettingNames(configuration, resource.Body.GetProperty("app_settings")).ToHashSet(StringComparer.Ordinal);
                if (resource.Body.GetProperty("site_config")[0].TryGetProperty("application_insights_connection_string", out _))
                {
                    appSettings.Add("APPLICATIONINSIGHTS_CONNECTION_STRING"); // azurerm writes this app setting from site_config
                }
                settings[app.Value] = appSettings;
                runtime = resource.GetString("runtime_name") ?? "";
            }
            else if (app is not null)
            {
                JsonElement properties = resource.Body.GetProperty("body").GetProperty("properties");
                settings[app.Value] = ArmShapes.ContainerEnvironments(properties)
                    .SelectMany(env => SettingNames(configuration, env)).ToHashSet(StringComparer.Ordinal);
                scaleRules[app.Value] = ArmShapes.QueueScaleRules(app.Value, properties);
            }
        }
        var parameters = configuration.Variables.Select(variable => variable.Name)
            .Where(name => !ScopeVariables.Contains(name)).ToHashSet(StringComparer.Ordinal);
        return new StackDescription(
            counts,
            storageNames.ToDictionary(pair => pair.Key, pair => (IReadOnlySet<string>)pair.Value),
            settings, scaleRules, runtime, parameters);
    }

    private static string ArmTypeOf(TerraformBlock resource)
    {
        if (resource.Type == "azapi_resource")
        {
            return AzapiBodies.SplitType(resource.GetString("type") ?? "").ResourceType;
        }
        return ArmTypes.TryGetValue(resource.Type, out string? armType)
            ? armType
            : throw new InvalidOperationException($"{resource.Address}: add its Resource Manager type to TerraformStack.ArmTypes.");
    }

    /// <summary>How many instances a resource block creates, from count or for_each.</summary>
    public static int InstanceCount(TerraformConfiguration configuration, TerraformBlock resource)
    {
        if (resource.TryGet("count", out JsonElement count))
        {
            if (count.ValueKind == JsonValueKind.Number)
            {
                return count.GetInt32();
            }
            Match conditional = ConditionalCount().Match(TerraformExpressions.WholeExpression(count.GetString() ?? "") ?? "");
            return conditional.Success
                ? (VariableDefault(configuration, conditional.Groups["variable"].Value).GetBoolean() ? 1 : 0)
                : throw Unreadable(resource, "count", count);
        }
        if (resource.TryGet("for_each", out JsonElement forEach))
        {
            JsonElement collection = ForEachCollection(configuration, resource, forEach);
            return collection.ValueKind == JsonValueKind.Array ? collection.GetArrayLength() : collection.EnumerateObject().Count();
        }
        return 1;
    }

    /// <summary>The names of a resource's instances: its literal name, or the elements of toset(local.x) for name = each.value.</summary>
    public static IEnumerable<string> InstanceNames(TerraformConfiguration configuration, TerraformBlock resource)
    {
        string name = resource.GetString("name") ?? throw Unreadable(resource, "name", default);
        if (!resource.TryGet("for_each", out JsonElement forEach))
        {
            return [ResolveString(configuration, resource, name)];
        }
        if (TerraformExpressions.WholeExpression(name) != "each.value")
        {
            throw Unreadable(resource, "name", resource.Body.GetProperty("name"));
        }
        return ForEachCollection(configuration, resource, forEach).EnumerateArray()
            .Select(element => ResolveString(configuration, resource, element.GetString()!)).ToList();
    }

    private static JsonElement ForEachCollection(TerraformConfiguration configuration, TerraformBlock resource, JsonElement forEach)
    {
        string expression = TerraformExpressions.WholeExpression(forEach.GetString() ?? "") ?? throw Unreadable(resource, "for_each", forEach);
        Match toSet = ToSet().Match(expression);
        return LocalPath(configuration, toSet.Success ? toSet.Groups["path"].Value : expression)
            ?? throw Unreadable(resource, "for_each", forEach);
    }

    private static string ResolveString(TerraformConfiguration configuration, TerraformBlock resource, string value)
    {
        string? expression = TerraformExpressions.WholeExpression(value);
        if (expression is null && !value.Contains("${", StringComparison.Ordinal))
        {
            return value;
        }
        JsonElement? local = expression is null ? null : LocalPath(configuration, expression);
        return local?.ValueKind == JsonValueKind.String
            ? ResolveString(configuration, resource, local.Value.GetString()!)
            : throw new InvalidOperationException($"{resource.Address}: cannot read a name from '{value}'.");
    }

    /// <summary>The setting names in an app_settings map or a container's env list.</summary>
    public static IEnumerable<string> SettingNames(TerraformConfiguration configuration, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                return value.EnumerateObject().Select(property => property.Name).ToList();
            case JsonValueKind.Array:
                return value.EnumerateArray().Select(item => item.GetProperty("name").GetString()!).ToList();
            case JsonValueKind.String:
                string expression = TerraformExpressions.WholeExpression(value.GetString()!) ?? "";
                Match forEntries = NameValueList().Match(expression);
                if (forEntries.Success)
                {
                    return SettingNamesAt(configuration, forEntries.Groups["path"].Value);
                }
                Match merge = Merge().Match(expression);
                if (merge.Success)
                {
                    return merge.Groups["arguments"].Value.Split(',').SelectMany(argument => SettingNamesAt(configuration, argument.Trim())).ToList();
                }
                return SettingNamesAt(configuration, expression);
            default:
                throw new InvalidOperationException($"Cannot read setting names from {value}.");
        }
    }

    private static IEnumerable<string> SettingNamesAt(TerraformConfiguration configuration, string path) =>
        SettingNames(configuration, LocalPath(configuration, path)
            ?? throw new InvalidOperationException($"Cannot read setting names from '{path}': only local.x paths, merge() of them and [for k, v in local.x : {{ name = k, value = v }}] are read."));

    /// <summary>The value at local.a.b.c, or null if the expression is not such a path.</summary>
    private static JsonElement? LocalPath(TerraformConfiguration configuration, string expression)
    {
        Match match = LocalTraversal().Match(expression);
        if (!match.Success || !configuration.Locals.TryGetValue(match.Groups["local"].Value, out JsonElement value))
        {
            return null;
        }
        foreach (Capture key in match.Groups["key"].Captures)
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(key.Value, out value))
            {
                return null;
            }
        }
        return value;
    }

    private static JsonElement VariableDefault(TerraformConfiguration configuration, string name) =>
        configuration.Variables.Single(variable => variable.Name == name).Body.GetProperty("default");

    private static InvalidOperationException Unreadable(TerraformBlock resource, string argument, JsonElement value) =>
        new($"{resource.Address}: cannot read {argument} = {value} (see TerraformStack for the forms it reads).");

    [GeneratedRegex(@"^var\.(?<variable>[\w-]+)\s*\?\s*1\s*:\s*0$")]
    private static partial Regex ConditionalCount();

    [GeneratedRegex(@"^toset\((?<path>[^()]+)\)$")]
    private static partial Regex ToSet();

    [GeneratedRegex(@"^local\.(?<local>[\w-]+)(?:\.(?<key>[\w-]+))*$")]
    private static partial Regex LocalTraversal();

    [GeneratedRegex(@"^merge\((?<arguments>[^()]*)\)$")]
    private static partial Regex Merge();

    [GeneratedRegex(@"^\[\s*for\s+(?<key>\w+)\s*,\s*(?<value>\w+)\s+in\s+(?<path>[\w.-]+)\s*:\s*\{\s*name\s*=\s*\k<key>\s*,\s*value\s*=\s*\k<value>\s*\}\s*\]$")]
    private static partial Regex NameValueList();
}
