using System.Text.Json;
using System.Text.Json.Nodes;
using ShortcutPipeline.Infra.Tests.Terraform;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>
/// Reads a <see cref="StackDescription"/> from the Terraform stack. Terraform cannot run here, so the values are
/// computed by <see cref="TerraformEvaluator"/> with the variables of terraform.tfvars.example (the counterpart
/// of main.bicepparam, which the Bicep description is made from) over their defaults, and any given ones over
/// those; attributes known only after apply become <see cref="ArmToken"/>s.
/// </summary>
public sealed class TerraformStack
{
    /// <summary>The Resource Manager type that each azurerm resource type of the stack creates.</summary>
    public static IReadOnlyDictionary<string, string> ArmTypes { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["azurerm_storage_account"] = "Microsoft.Storage/storageAccounts",
        ["azurerm_storage_container"] = ArmShapes.Containers,
        ["azurerm_storage_queue"] = ArmShapes.Queues,
        ["azurerm_role_assignment"] = ArmShapes.RoleAssignment,
        ["azurerm_user_assigned_identity"] = "Microsoft.ManagedIdentity/userAssignedIdentities",
        ["azurerm_log_analytics_workspace"] = "Microsoft.OperationalInsights/workspaces",
        ["azurerm_application_insights"] = "Microsoft.Insights/components",
        ["azurerm_container_registry"] = "Microsoft.ContainerRegistry/registries",
        ["azurerm_service_plan"] = "Microsoft.Web/serverfarms",
    };

    /// <summary>
    /// The Resource Manager property (as reference() returns it) of each azurerm attribute that the stack reads;
    /// id and name are the same for every type.
    /// </summary>
    public static IReadOnlyDictionary<(string Type, string Attribute), string> ArmAttributes { get; } = new Dictionary<(string, string), string>
    {
        [("azurerm_storage_account", "primary_blob_endpoint")] = "primaryEndpoints.blob",
        [("azurerm_storage_account", "primary_queue_endpoint")] = "primaryEndpoints.queue",
        [("azurerm_storage_account", "primary_table_endpoint")] = "primaryEndpoints.table",
        [("azurerm_user_assigned_identity", "client_id")] = "clientId",
        [("azurerm_user_assigned_identity", "principal_id")] = "principalId",
        [("azurerm_container_registry", "login_server")] = "loginServer",
        [("azurerm_application_insights", "connection_string")] = "ConnectionString",
        [("azurerm_log_analytics_workspace", "workspace_id")] = "customerId",
    };

    /// <summary>Terraform variables with no Bicep parameter: Bicep deploys at resource-group scope.</summary>
    public static IReadOnlySet<string> ScopeVariables { get; } = new HashSet<string>(StringComparer.Ordinal) { "resource_group_name" };

    private readonly TerraformConfiguration configuration;
    private readonly Dictionary<string, JsonNode?> variables;
    private readonly TerraformEvaluator evaluator;
    private readonly Dictionary<TerraformBlock, IReadOnlyList<(JsonNode? Key, EvaluationScope Scope)>> instances = [];

    private TerraformStack(TerraformConfiguration configuration, IReadOnlyDictionary<string, JsonNode?>? overrides)
    {
        this.configuration = configuration;
        variables = TerraformEvaluator.VariableValues(configuration, configuration.ExampleValues, overrides);
        evaluator = new TerraformEvaluator(configuration, variables, Resolve);
    }

    /// <summary>The stack as deployed with terraform.tfvars.example, and <paramref name="overrides"/> over it.</summary>
    public static StackDescription Describe(TerraformConfiguration configuration, IReadOnlyDictionary<string, JsonNode?>? overrides = null) =>
        new TerraformStack(configuration, overrides).Describe();

    private StackDescription Describe()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var storageNames = ArmShapes.StorageChildTypes.ToDictionary(type => type, _ => new HashSet<string>(StringComparer.Ordinal));
        var apps = new Dictionary<PipelineApp, JsonObject>();
        var grants = new List<RoleGrant>();
        var publishing = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (TerraformBlock resource in configuration.Resources)
        {
            string armType = ArmTypeOf(resource);
            counts[armType] = counts.GetValueOrDefault(armType) + Instances(resource).Count;
            foreach ((JsonNode? _, EvaluationScope scope) in Instances(resource))
            {
                if (storageNames.TryGetValue(armType, out HashSet<string>? names))
                {
                    names.Add(TerraformEvaluator.Text(Argument(resource, "name", scope)));
                }
                else if (ArmShapes.AppOf(armType) is PipelineApp app)
                {
                    apps[app] = AppProperties(resource, scope);
                }
                else if (armType == ArmShapes.RoleAssignment)
                {
                    grants.Add(Grant(resource, scope));
                }
                else if (armType == ArmShapes.PublishingCredentialsPolicy)
                {
                    publishing[TerraformEvaluator.Text(Argument(resource, "name", scope))] = Argument(resource, "body", scope)!["properties"]!["allow"]!.GetValue<bool>();
                }
            }
        }
        var parameters = configuration.Variables.Where(variable => !ScopeVariables.Contains(variable.Name)).ToDictionary(
            variable => variable.Name,
            variable => new StackParameter(
                variable.TryGet("default", out JsonElement value) ? TerraformEvaluator.ToNode(value) : null,
                probe => ValidationProblems(variable, probe),
                variable.TryGet("sensitive", out JsonElement sensitive) && sensitive.ValueKind == JsonValueKind.True),
            StringComparer.Ordinal);
        var outputs = configuration.Blocks.Where(block => block.Kind == "output").Select(block => block.Name).ToHashSet(StringComparer.Ordinal);
        return new StackDescription(
            counts, storageNames.ToDictionary(pair => pair.Key, pair => (IReadOnlySet<string>)pair.Value), apps, parameters, grants, outputs, publishing);
    }

    /// <summary>The error messages of the variable's validation blocks whose condition fails for <paramref name="value"/>.</summary>
    private IReadOnlyList<string> ValidationProblems(TerraformBlock variable, JsonNode? value)
    {
        var probe = new Dictionary<string, JsonNode?>(variables, StringComparer.Ordinal) { [variable.Name] = value?.DeepClone() };
        var probeEvaluator = new TerraformEvaluator(configuration, probe, Resolve);
        var problems = new List<string>();
        foreach (JsonElement validation in variable.TryGet("validation", out JsonElement blocks) ? blocks.EnumerateArray() : Enumerable.Empty<JsonElement>())
        {
            bool holds;
            try
            {
                holds = probeEvaluator.Evaluate(validation.GetProperty("condition"))!.GetValue<bool>();
            }
            catch (InvalidOperationException exception)
            {
                problems.Add($"condition fails to evaluate: {exception.Message}");
                continue;
            }
            if (!holds)
            {
                problems.Add(validation.GetProperty("error_message").GetString()!);
            }
        }
        return problems;
    }

    private JsonObject AppProperties(TerraformBlock resource, EvaluationScope scope)
    {
        if (resource.Type != "azapi_resource")
        {
            throw new InvalidOperationException($"{resource.Address}: an app must be an azapi_resource with the Bicep stack's Resource Manager body, so that both can be compared.");
        }
        JsonObject properties = Argument(resource, "body", scope)!["properties"]!.AsObject();
        // With ignore_null_property = true, azapi leaves properties whose value is null out of the request body.
        return Argument(resource, "ignore_null_property", scope) is JsonValue ignoreNull && ignoreNull.GetValue<bool>()
            ? (JsonObject)WithoutNullProperties(properties)!
            : properties;
    }

    /// <summary>A body without its null-valued object properties, at every depth.</summary>
    private static JsonNode? WithoutNullProperties(JsonNode? value) => value switch
    {
        JsonObject obj => new JsonObject(obj.Where(property => property.Value is not null)
            .Select(property => KeyValuePair.Create(property.Key, WithoutNullProperties(property.Value)))),
        JsonArray array => new JsonArray(array.Select(WithoutNullProperties).ToArray()),
        _ => value?.DeepClone(),
    };

    private RoleGrant Grant(TerraformBlock resource, EvaluationScope scope)
    {
        string role = Argument(resource, "role_definition_name", scope) is JsonNode name
            ? BuiltInRoles.IdOf(TerraformEvaluator.Text(name))
            : TerraformEvaluator.Text(Argument(resource, "role_definition_id", scope)).Split('/')[^1];
        return new RoleGrant(
            TerraformEvaluator.Text(Argument(resource, "principal_id", scope)),
            role,
            TerraformEvaluator.Text(Argument(resource, "scope", scope)),
            Argument(resource, "principal_type", scope) is JsonNode type ? TerraformEvaluator.Text(type) : "");
    }

    private JsonNode? Argument(TerraformBlock resource, string argument, EvaluationScope scope) =>
        resource.TryGet(argument, out JsonElement value) ? evaluator.Evaluate(value, scope) : null;

    /// <summary>The instances of a resource block: one, count.index 0..n-1, or each key of its for_each.</summary>
    private IReadOnlyList<(JsonNode? Key, EvaluationScope Scope)> Instances(TerraformBlock resource)
    {
        if (instances.TryGetValue(resource, out IReadOnlyList<(JsonNode?, EvaluationScope)>? known))
        {
            return known;
        }
        List<(JsonNode?, EvaluationScope)> found;
        if (resource.TryGet("count", out JsonElement count))
        {
            int n = (int)evaluator.Evaluate(count)!.GetValue<decimal>();
            found = Enumerable.Range(0, n)
                .Select(index => ((JsonNode?)JsonValue.Create((decimal)index), EvaluationScope.Root.With([("count", new JsonObject { ["index"] = (decimal)index })])))
                .ToList();
        }
        else if (resource.TryGet("for_each", out JsonElement forEach))
        {
            found = evaluator.Evaluate(forEach) switch
            {
                JsonObject map => map.Select(pair => ((JsonNode?)JsonValue.Create(pair.Key), EvaluationScope.ForEach(JsonValue.Create(pair.Key), pair.Value))).ToList(),
                JsonArray set => set.Select(item => (item?.DeepClone(), EvaluationScope.ForEach(item, item))).ToList(),
                var other => throw new InvalidOperationException($"{resource.Address}: for_each is {other?.ToJsonString()}, not a map or a set."),
            };
        }
        else
        {
            found = [(null, EvaluationScope.Root)];
        }
        instances[resource] = found;
        return found;
    }

    private string ArmTypeOf(TerraformBlock resource)
    {
        if (resource.Type == "azapi_resource")
        {
            return AzapiBodies.SplitType(resource.GetString("type") ?? "").ResourceType;
        }
        return ArmTypes.TryGetValue(resource.Type, out string? armType)
            ? armType
            : throw new InvalidOperationException($"{resource.Address}: add its Resource Manager type to TerraformStack.ArmTypes.");
    }

    /// <summary>An attribute of a resource, known after apply: its <see cref="ArmToken"/>.</summary>
    private JsonNode? Resolve(ResourceReference reference, EvaluationScope scope)
    {
        string path = string.Join('.', reference.Path);
        if (reference.Kind == "data")
        {
            return JsonValue.Create(ArmToken.Opaque($"data.{reference.Type}.{reference.Name}.{path}"));
        }
        TerraformBlock resource = configuration.Resources.Single(block => block.Type == reference.Type && block.Name == reference.Name);
        string armType = ArmTypeOf(resource);
        string attribute = reference.Path.Count > 0 ? reference.Path[0] : "";
        string? armPath = attribute switch
        {
            "id" or "name" => attribute,
            "output" when resource.Type == "azapi_resource" => string.Join('.', reference.Path.Skip(1).SkipWhile(segment => segment == "properties")),
            _ => ArmAttributes.GetValueOrDefault((reference.Type, attribute)),
        };
        if (armPath is null)
        {
            return JsonValue.Create(ArmToken.Opaque($"{reference.Type}.{reference.Name}.{path}"));
        }
        bool single = configuration.Resources.Where(block => ArmTypeOf(block) == armType).Sum(block => Instances(block).Count) == 1;
        string name = "";
        if (!single)
        {
            (JsonNode? _, EvaluationScope instance) = Instances(resource).Single(candidate => reference.Key is null || JsonNode.DeepEquals(candidate.Key, reference.Key));
            name = TerraformEvaluator.Text(Argument(resource, "name", instance));
        }
        return JsonValue.Create(ArmToken.Of(armType, name, single, armPath));
    }
}
