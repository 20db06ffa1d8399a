using System.Reflection;
using ShortcutPipeline.Core;
using ShortcutPipeline.Infra.Tests.Stacks;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>
/// The queue, container, table and setting names in both stacks are the ones in ShortcutPipeline.Core's
/// StorageNames and SettingNames, found by reflection, so a name added there must be added to both stacks.
/// </summary>
[Collection(InfraCollection.Name)]
public sealed class NameConsistencyTests(InfraFixture fixture)
{
    public static TheoryData<string> Stacks => new() { "bicep", "terraform" };

    /// <summary>Every public const string of a type.</summary>
    private static IReadOnlyList<(string Field, string Value)> Constants(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(field => field.IsLiteral && field.FieldType == typeof(string))
            .Select(field => (field.Name, (string)field.GetRawConstantValue()!))
            .ToList();

    /// <summary>The local-only connection-string form of the storage connection: in Azure the identity-based settings replace it.</summary>
    private static readonly string[] LocalOnlySettings = [SettingNames.StorageConnection];

    [Fact]
    public void EveryStorageNameIsAQueueAContainerATableOrTheConnection()
    {
        IEnumerable<string> listed = StorageNames.Queues.Concat(StorageNames.Containers).Concat(StorageNames.Tables).Append(StorageNames.ConnectionName);

        Assert.Empty(Constants(typeof(StorageNames)).Select(constant => constant.Value).Except(listed));
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheStackDeclaresEveryQueueAndItsPoisonQueue(string stack)
    {
        IReadOnlySet<string> declared = fixture.Stack(stack).StorageNames[ArmShapes.Queues];

        Assert.All(StorageNames.Queues, queue =>
        {
            Assert.Contains(queue, declared);
            Assert.Contains(StorageNames.PoisonQueueOf(queue), declared);
        });
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheStackDeclaresEveryBlobContainer(string stack) =>
        Assert.Subset(fixture.Stack(stack).StorageNames[ArmShapes.Containers].ToHashSet(), StorageNames.Containers.ToHashSet());

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheStackDeclaresEveryTable(string stack) =>
        Assert.Equal(StorageNames.Tables.Order(StringComparer.Ordinal), fixture.Stack(stack).StorageNames[ArmShapes.Tables].Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheStackSetsEverySettingTheCodeReads(string stack)
    {
        IReadOnlyDictionary<PipelineApp, IReadOnlyDictionary<string, AppSetting>> settings = fixture.Stack(stack).AppSettings;
        var setSomewhere = settings.Values.SelectMany(values => values.Keys).ToHashSet(StringComparer.Ordinal);

        var missing = Constants(typeof(SettingNames)).Where(constant => !LocalOnlySettings.Contains(constant.Value) && !setSomewhere.Contains(constant.Value))
            .Select(constant => $"SettingNames.{constant.Field} ({constant.Value})").ToList();

        Assert.True(missing.Count == 0, $"{stack} sets no app setting for: {string.Join(", ", missing)}");
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void EveryAppGetsTheIdentityBasedStorageConnection(string stack)
    {
        string[] identityBased = Constants(typeof(SettingNames)).Select(constant => constant.Value)
            .Where(value => value.StartsWith(StorageNames.ConnectionName + "__", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(identityBased);

        foreach ((PipelineApp app, IReadOnlyDictionary<string, AppSetting> settings) in fixture.Stack(stack).AppSettings)
        {
            Assert.All(identityBased, setting => Assert.True(settings.ContainsKey(setting), $"{stack}: {app} lacks {setting}"));
            Assert.All(LocalOnlySettings, setting => Assert.False(settings.ContainsKey(setting), $"{stack}: {app} sets the local-only {setting}, which would win over the identity-based settings"));
            Assert.Contains("APPLICATIONINSIGHTS_CONNECTION_STRING", settings.Keys);
        }
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheFunctionsAppIsDotnetIsolatedWithIdentityBasedHostStorage(string stack)
    {
        StackDescription description = fixture.Stack(stack);

        Assert.Equal("dotnet-isolated", description.FunctionsRuntime);
        Assert.Subset(
            description.AppSettings[PipelineApp.Functions].Keys.ToHashSet(),
            new HashSet<string>(["AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId"]));
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheWorkerAndTrainerScaleOnTheirQueuesWithTheirIdentities(string stack)
    {
        IReadOnlyDictionary<PipelineApp, IReadOnlyList<QueueScaleRule>> rules = fixture.Stack(stack).ScaleRules;

        Assert.Equal(new QueueScaleRule(StorageNames.WorkQueue, UsesManagedIdentity: true, UsesSecret: false), Assert.Single(rules[PipelineApp.Worker]));
        Assert.Equal(new QueueScaleRule(StorageNames.TrainingQueue, UsesManagedIdentity: true, UsesSecret: false), Assert.Single(rules[PipelineApp.Trainer]));
    }
}
