using System.Text.Json.Nodes;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>The apps of the pipeline, as both stacks deploy them.</summary>
public enum PipelineApp
{
    Functions,
    Worker,
    Trainer,
}

/// <summary>
/// What one stack (Bicep or Terraform) deploys, in terms both can be compared in: values known before deployment
/// as they are, values known only at deployment as <see cref="ArmToken"/>s.
/// </summary>
/// <param name="ResourceCounts">Resource Manager type to the number of instances.</param>
/// <param name="StorageNames">Resource Manager type of a queue, blob container or table to the names declared.</param>
/// <param name="AppProperties">The Resource Manager properties of each app's resource (the site, the container app, the job).</param>
/// <param name="Parameters">The stack's parameters (snake_case): default and input checks.</param>
/// <param name="RoleGrants">Every role assignment.</param>
/// <param name="Outputs">The stack's outputs (snake_case).</param>
/// <param name="PublishingCredentials">The Functions app's basic-auth publishing policies (scm, ftp) and whether each allows basic auth.</param>
public sealed record StackDescription(
    IReadOnlyDictionary<string, int> ResourceCounts,
    IReadOnlyDictionary<string, IReadOnlySet<string>> StorageNames,
    IReadOnlyDictionary<PipelineApp, JsonObject> AppProperties,
    IReadOnlyDictionary<string, StackParameter> Parameters,
    IReadOnlyList<RoleGrant> RoleGrants,
    IReadOnlySet<string> Outputs,
    IReadOnlyDictionary<string, bool> PublishingCredentials)
{
    /// <summary>The app settings or container environment variables that each app gets, by name: a value, or a container app secret's name.</summary>
    public IReadOnlyDictionary<PipelineApp, IReadOnlyDictionary<string, AppSetting>> AppSettings { get; } =
        AppProperties.ToDictionary(app => app.Key, app => ArmShapes.Settings(app.Key, app.Value));

    /// <summary>The KEDA azure-queue rules of the worker and the trainer.</summary>
    public IReadOnlyDictionary<PipelineApp, IReadOnlyList<QueueScaleRule>> ScaleRules { get; } =
        AppProperties.Where(app => app.Key != PipelineApp.Functions).ToDictionary(app => app.Key, app => ArmShapes.QueueScaleRules(app.Key, app.Value));

    /// <summary>The Functions app's worker runtime.</summary>
    public string FunctionsRuntime { get; } =
        AppProperties.TryGetValue(PipelineApp.Functions, out JsonObject? site) ? site["functionAppConfig"]?["runtime"]?["name"]?.GetValue<string>() ?? "" : "";
}

/// <summary>One parameter of a stack.</summary>
/// <param name="Default">Its default value (null: none, or null).</param>
/// <param name="Problems">What the stack's input checks say about a value: empty when the value is accepted.</param>
/// <param name="Sensitive">Whether the stack treats its value as a secret: Bicep's @secure() (securestring, secureObject), Terraform's sensitive = true.</param>
public sealed record StackParameter(JsonNode? Default, Func<JsonNode?, IReadOnlyList<string>> Problems, bool Sensitive);

/// <summary>
/// One app setting or container environment variable: a plain <paramref name="Value"/>, or (containers only) a
/// <paramref name="SecretRef"/>, the name of one of the container app's secrets (configuration.secrets) that
/// Container Apps puts into the variable.
/// </summary>
public sealed record AppSetting(string? Value, string? SecretRef)
{
    public override string ToString() => SecretRef is null ? Value ?? "(no value)" : Value is null ? $"secretRef {SecretRef}" : $"{Value} and secretRef {SecretRef}";
}

/// <summary>One role assignment: who gets which built-in role on what.</summary>
/// <param name="Principal">The principal's object id, or its <see cref="ArmToken"/> (a managed identity's principalId).</param>
/// <param name="RoleDefinitionId">The built-in role's GUID.</param>
/// <param name="Scope">The <see cref="ArmToken"/> of the resource it is granted on.</param>
/// <param name="PrincipalType">User, Group or ServicePrincipal.</param>
public sealed record RoleGrant(string Principal, string RoleDefinitionId, string Scope, string PrincipalType);

/// <summary>One azure-queue scale rule: the queue it watches and whether it authenticates with a managed identity.</summary>
public sealed record QueueScaleRule(string QueueName, bool UsesManagedIdentity, bool UsesSecret);

/// <summary>Resource Manager types and the parts of app bodies that both stacks write the same way.</summary>
public static class ArmShapes
{
    public const string Queues = "Microsoft.Storage/storageAccounts/queueServices/queues";
    public const string Containers = "Microsoft.Storage/storageAccounts/blobServices/containers";
    public const string Tables = "Microsoft.Storage/storageAccounts/tableServices/tables";
    public const string FunctionApp = "Microsoft.Web/sites";
    public const string PublishingCredentialsPolicy = "Microsoft.Web/sites/basicPublishingCredentialsPolicies";
    public const string ContainerApp = "Microsoft.App/containerApps";
    public const string Job = "Microsoft.App/jobs";
    public const string RoleAssignment = "Microsoft.Authorization/roleAssignments";

    public static IReadOnlyList<string> StorageChildTypes { get; } = [Queues, Containers, Tables];

    /// <summary>The app that a resource of this type is, if any.</summary>
    public static PipelineApp? AppOf(string resourceType) => resourceType switch
    {
        FunctionApp => PipelineApp.Functions,
        ContainerApp => PipelineApp.Worker,
        Job => PipelineApp.Trainer,
        _ => null,
    };

    /// <summary>The containers of a container app's or job's properties.</summary>
    public static IEnumerable<JsonObject> AppContainers(JsonObject properties) =>
        properties["template"]?["containers"]?.AsArray().OfType<JsonObject>() ?? [];

    /// <summary>An app's settings: the Functions app's siteConfig.appSettings, or the env of every container (value or secretRef).</summary>
    public static IReadOnlyDictionary<string, AppSetting> Settings(PipelineApp app, JsonObject properties)
    {
        IEnumerable<JsonNode?> items = app == PipelineApp.Functions
            ? properties["siteConfig"]?["appSettings"]?.AsArray() ?? []
            : AppContainers(properties).SelectMany(container => container["env"]?.AsArray() ?? []);
        return items.OfType<JsonObject>().ToDictionary(
            item => item["name"]!.GetValue<string>(),
            item => new AppSetting(item["value"]?.ToString(), item["secretRef"]?.ToString()),
            StringComparer.Ordinal);
    }

    /// <summary>The secrets of a container app or job (configuration.secrets): name to value.</summary>
    public static IReadOnlyDictionary<string, string?> Secrets(JsonObject properties) =>
        (properties["configuration"]?["secrets"]?.AsArray() ?? []).OfType<JsonObject>().ToDictionary(
            secret => secret["name"]!.GetValue<string>(),
            secret => secret["value"]?.ToString(),
            StringComparer.Ordinal);

    /// <summary>The azure-queue rules of a container app (template.scale) or an event-triggered job.</summary>
    public static IReadOnlyList<QueueScaleRule> QueueScaleRules(PipelineApp app, JsonObject properties)
    {
        if (app == PipelineApp.Worker)
        {
            return (properties["template"]?["scale"]?["rules"]?.AsArray() ?? []).OfType<JsonObject>()
                .Select(rule => rule["azureQueue"]).OfType<JsonObject>()
                .Select(queue => new QueueScaleRule(queue["queueName"]!.GetValue<string>(), queue.ContainsKey("identity"), queue.ContainsKey("auth")))
                .ToList();
        }
        return (properties["configuration"]?["eventTriggerConfig"]?["scale"]?["rules"]?.AsArray() ?? []).OfType<JsonObject>()
            .Where(rule => rule["type"]?.GetValue<string>() == "azure-queue")
            .Select(rule => new QueueScaleRule(rule["metadata"]!["queueName"]!.GetValue<string>(), rule.ContainsKey("identity"), rule.ContainsKey("auth")))
            .ToList();
    }
}
