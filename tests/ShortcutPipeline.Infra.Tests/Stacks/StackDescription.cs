using System.Text.Json;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>The apps of the pipeline, as both stacks deploy them.</summary>
public enum PipelineApp
{
    Functions,
    Worker,
    Trainer,
}

/// <summary>What one stack (Bicep or Terraform) deploys, in terms both can be compared in.</summary>
/// <param name="ResourceCounts">Resource Manager type to the number of instances.</param>
/// <param name="StorageNames">Resource Manager type of a queue, blob container or table to the names declared.</param>
/// <param name="AppSettings">The app settings or container environment variables that each app gets.</param>
/// <param name="ScaleRules">The KEDA azure-queue rules of the worker and the trainer.</param>
/// <param name="FunctionsRuntime">The Functions app's worker runtime.</param>
/// <param name="Parameters">The stack's parameters (snake_case).</param>
public sealed record StackDescription(
    IReadOnlyDictionary<string, int> ResourceCounts,
    IReadOnlyDictionary<string, IReadOnlySet<string>> StorageNames,
    IReadOnlyDictionary<PipelineApp, IReadOnlySet<string>> AppSettings,
    IReadOnlyDictionary<PipelineApp, IReadOnlyList<QueueScaleRule>> ScaleRules,
    string FunctionsRuntime,
    IReadOnlySet<string> Parameters);

/// <summary>One azure-queue scale rule: the queue it watches and whether it authenticates with a managed identity.</summary>
public sealed record QueueScaleRule(string QueueName, bool UsesManagedIdentity, bool UsesSecret);

/// <summary>Resource Manager types and the parts of container app and job bodies that both stacks write the same way.</summary>
public static class ArmShapes
{
    public const string Queues = "Microsoft.Storage/storageAccounts/queueServices/queues";
    public const string Containers = "Microsoft.Storage/storageAccounts/blobServices/containers";
    public const string Tables = "Microsoft.Storage/storageAccounts/tableServices/tables";
    public const string FunctionApp = "Microsoft.Web/sites";
    public const string ContainerApp = "Microsoft.App/containerApps";
    public const string Job = "Microsoft.App/jobs";

    public static IReadOnlyList<string> StorageChildTypes { get; } = [Queues, Containers, Tables];

    /// <summary>The app that a resource of this type is, if any.</summary>
    public static PipelineApp? AppOf(string resourceType) => resourceType switch
    {
        FunctionApp => PipelineApp.Functions,
        ContainerApp => PipelineApp.Worker,
        Job => PipelineApp.Trainer,
        _ => null,
    };

    /// <summary>The env values of every container in a container app's or job's properties.</summary>
    public static IEnumerable<JsonElement> ContainerEnvironments(JsonElement properties) =>
        properties.GetProperty("template").GetProperty("containers").EnumerateArray()
            .Where(container => container.TryGetProperty("env", out _))
            .Select(container => container.GetProperty("env"));

    /// <summary>The azure-queue rules of a container app (template.scale) or an event-triggered job.</summary>
    public static IReadOnlyList<QueueScaleRule> QueueScaleRules(PipelineApp app, JsonElement properties)
    {
        if (app == PipelineApp.Worker)
        {
            return properties.GetProperty("template").GetProperty("scale").GetProperty("rules").EnumerateArray()
                .Where(rule => rule.TryGetProperty("azureQueue", out _))
                .Select(rule => rule.GetProperty("azureQueue"))
                .Select(queue => new QueueScaleRule(queue.GetProperty("queueName").GetString()!, queue.TryGetProperty("identity", out _), queue.TryGetProperty("auth", out _)))
                .ToList();
        }
        return properties.GetProperty("configuration").GetProperty("eventTriggerConfig").GetProperty("scale").GetProperty("rules").EnumerateArray()
            .Where(rule => rule.GetProperty("type").GetString() == "azure-queue")
            .Select(rule => new QueueScaleRule(rule.GetProperty("metadata").GetProperty("queueName").GetString()!, rule.TryGetProperty("identity", out _), rule.TryGetProperty("auth", out _)))
            .ToList();
    }
}
