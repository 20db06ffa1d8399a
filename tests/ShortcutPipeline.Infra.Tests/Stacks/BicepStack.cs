using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ShortcutPipeline.Infra.Tests.Terraform;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>Reads a <see cref="StackDescription"/> from the Bicep stack's snapshot and compiled main template.</summary>
public static partial class BicepStack
{
    /// <summary>Child resources that azurerm and Resource Manager create implicitly with the storage account.</summary>
    public static IReadOnlySet<string> ImplicitTypes { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "Microsoft.Storage/storageAccounts/blobServices",
        "Microsoft.Storage/storageAccounts/queueServices",
        "Microsoft.Storage/storageAccounts/tableServices",
    };

    public static StackDescription Describe(JsonDocument snapshot, JsonDocument compiledMain)
    {
        List<JsonElement> resources = snapshot.RootElement.GetProperty("predictedResources").EnumerateArray().ToList();
        string TypeOf(JsonElement resource) => resource.GetProperty("type").GetString()!;
        string NameOf(JsonElement resource) => resource.GetProperty("name").GetString()!;
        var expressions = new ArmExpressions(resources.Select(resource => (TypeOf(resource), NameOf(resource))));

        var counts = resources.Select(TypeOf).Where(type => !ImplicitTypes.Contains(type))
            .GroupBy(type => type).ToDictionary(group => group.Key, group => group.Count(), StringComparer.Ordinal);
        var storageNames = ArmShapes.StorageChildTypes.ToDictionary(
            type => type,
            type => (IReadOnlySet<string>)resources.Where(resource => TypeOf(resource) == type)
                .Select(resource => NameOf(resource).Split('/')[^1]).ToHashSet(StringComparer.Ordinal));

        var apps = new Dictionary<PipelineApp, JsonObject>();
        var grants = new List<RoleGrant>();
        var publishing = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (JsonElement resource in resources)
        {
            string type = TypeOf(resource);
            JsonObject properties = resource.TryGetProperty("properties", out JsonElement value) ? (JsonObject)expressions.Normalise(value)! : [];
            if (ArmShapes.AppOf(type) is PipelineApp app)
            {
                apps[app] = properties;
            }
            else if (type == ArmShapes.RoleAssignment)
            {
                grants.Add(new RoleGrant(
                    properties["principalId"]!.GetValue<string>(),
                    value.GetProperty("roleDefinitionId").GetString()!.Split('/')[^1],
                    expressions.NormaliseString(ScopeOf(resource.GetProperty("id").GetString()!)),
                    properties["principalType"]?.GetValue<string>() ?? ""));
            }
            else if (type == ArmShapes.PublishingCredentialsPolicy)
            {
                publishing[NameOf(resource).Split('/')[^1]] = properties["allow"]!.GetValue<bool>();
            }
        }

        JsonElement template = compiledMain.RootElement;
        var parameters = template.GetProperty("parameters").EnumerateObject().ToDictionary(
            parameter => AzurermSchema.SnakeCase(parameter.Name),
            parameter => new StackParameter(
                parameter.Value.TryGetProperty("defaultValue", out JsonElement defaultValue) ? TerraformEvaluator.ToNode(defaultValue) : null,
                value => DecoratorProblems(parameter.Value, value),
                IsSecure(parameter.Value)),
            StringComparer.Ordinal);
        var outputs = template.TryGetProperty("outputs", out JsonElement declared)
            ? declared.EnumerateObject().Select(output => AzurermSchema.SnakeCase(output.Name)).ToHashSet(StringComparer.Ordinal)
            : [];
        return new StackDescription(counts, storageNames, apps, parameters, grants, outputs, publishing);
    }

    /// <summary>Whether a compiled template's parameter is @secure(): of type securestring or secureObject.</summary>
    public static bool IsSecure(JsonElement parameter) =>
        parameter.TryGetProperty("type", out JsonElement type)
        && type.GetString() is string name
        && name.StartsWith("secure", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// What Resource Manager's parameter checks (the decorators @allowed, @minValue, @maxValue, @minLength and
    /// @maxLength, compiled to allowedValues, minValue…) say about a value. Checks in the template's body, such
    /// as the name prefix's characters, show only in a deployment or a snapshot.
    /// </summary>
    public static IReadOnlyList<string> DecoratorProblems(JsonElement parameter, JsonNode? value)
    {
        var problems = new List<string>();
        if (parameter.TryGetProperty("allowedValues", out JsonElement allowed)
            && !allowed.EnumerateArray().Any(item => JsonNode.DeepEquals(CanonicalJson.Of(TerraformEvaluator.ToNode(item)), CanonicalJson.Of(value))))
        {
            problems.Add($"not one of {allowed}");
        }
        decimal? number = CanonicalJson.TryGetNumber(value, out decimal n) ? n : null;
        int? length = value switch
        {
            JsonArray array => array.Count,
            JsonValue text when text.TryGetValue(out string? s) => s.Length,
            _ => null,
        };
        void Bound(string name, decimal? actual, Func<decimal, decimal, bool> ok)
        {
            if (actual is decimal a && parameter.TryGetProperty(name, out JsonElement limit) && !ok(a, limit.GetDecimal()))
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {limit.GetDecimal()}"));
            }
        }
        Bound("minValue", number, (a, limit) => a >= limit);
        Bound("maxValue", number, (a, limit) => a <= limit);
        Bound("minLength", length, (a, limit) => a >= limit);
        Bound("maxLength", length, (a, limit) => a <= limit);
        return problems;
    }

    /// <summary>The resource a role assignment is on: from [extensionResourceId('scope', …)], or the literal id scope/providers/Microsoft.Authorization/roleAssignments/name.</summary>
    private static string ScopeOf(string roleAssignmentId)
    {
        Match expression = ExtensionScope().Match(roleAssignmentId);
        if (expression.Success)
        {
            return expression.Groups["scope"].Value;
        }
        int extension = roleAssignmentId.IndexOf("/providers/" + ArmShapes.RoleAssignment + "/", StringComparison.OrdinalIgnoreCase);
        return extension > 0 ? roleAssignmentId[..extension] : roleAssignmentId;
    }

    [GeneratedRegex(@"^\[extensionResourceId\('(?<scope>[^']+)'")]
    private static partial Regex ExtensionScope();
}
