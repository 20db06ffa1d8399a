using System.Text.Json;
using ShortcutPipeline.Infra.Tests.Terraform;

namespace ShortcutPipeline.Infra.Tests.Stacks;

/// <summary>Reads a <see cref="StackDescription"/> from the Bicep stack's snapshot and compiled main template.</summary>
public static class BicepStack
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

        var counts = resources.Select(TypeOf).Where(type => !ImplicitTypes.Contains(type))
            .GroupBy(type => type).ToDictionary(group => group.Key, group => group.Count(), StringComparer.Ordinal);
        var storageNames = ArmShapes.StorageChildTypes.ToDictionary(
            type => type,
            type => (IReadOnlySet<string>)resources.Where(resource => TypeOf(resource) == type)
                .Select(resource => resource.GetProperty("name").GetString()!.Split('/')[^1]).ToHashSet(StringComparer.Ordinal));

        var settings = new Dictionary<PipelineApp, IReadOnlySet<string>>();
        var scaleRules = new Dictionary<PipelineApp, IReadOnlyList<QueueScaleRule>>();
        string runtime = "";
        foreach (JsonElement resource in resources)
        {
            PipelineApp? app = ArmShapes.AppOf(TypeOf(resource));
            if (app is null)
            {
                continue;
            }
            JsonElement properties = resource.GetProperty("properties");
            if (app == PipelineApp.Functions)
            {
                settings[app.Value] = Names(properties.GetProperty("siteConfig").GetProperty("appSettings"));
                runtime = properties.GetProperty("functionAppConfig").GetProperty("runtime").GetProperty("name").GetString()!;
            }
            else
            {
                settings[app.Value] = ArmShapes.ContainerEnvironments(properties).SelectMany(Names).ToHashSet(StringComparer.Ordinal);
                scaleRules[app.Value] = ArmShapes.QueueScaleRules(app.Value, properties);
            }
        }

        var parameters = compiledMain.RootElement.GetProperty("parameters").EnumerateObject()
            .Select(parameter => AzurermSchema.SnakeCase(parameter.Name)).ToHashSet(StringComparer.Ordinal);
        return new StackDescription(counts, storageNames, settings, scaleRules, runtime, parameters);
    }

    private static HashSet<string> Names(JsonElement nameValues) =>
        nameValues.EnumerateArray().Select(item => item.GetProperty("name").GetString()!).ToHashSet(StringComparer.Ordinal);
}
