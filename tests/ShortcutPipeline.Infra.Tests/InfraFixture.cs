using System.Text.Json;
using ShortcutPipeline.Infra.Tests.Bicep;
using ShortcutPipeline.Infra.Tests.Stacks;
using ShortcutPipeline.Infra.Tests.Terraform;
using ShortcutPipeline.Infra.Tests.Tooling;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>The validators and both stacks' descriptions, built once for all infrastructure tests.</summary>
public sealed class InfraFixture : IAsyncLifetime
{
    private JsonDocument? snapshot;
    private JsonDocument? compiledMain;

    public BicepCli Bicep { get; } = BicepCli.FromNuGetPackage();

    public AzurermSchema Azurerm { get; private set; } = null!;

    public TerraformValidator TerraformValidator { get; private set; } = null!;

    public StackDescription BicepStack { get; private set; } = null!;

    public StackDescription TerraformStack { get; private set; } = null!;

    public StackDescription Stack(string name) => name switch
    {
        "bicep" => BicepStack,
        "terraform" => TerraformStack,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "bicep or terraform"),
    };

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        Task<AzurermSchema> schema = Task.Run(() => AzurermSchema.Load(RepositoryLayout.AzurermProviderPackage), timeout.Token);
        snapshot = await Bicep.SnapshotAsync(Path.Combine(RepositoryLayout.BicepDirectory, "main.bicepparam"), timeout.Token);
        compiledMain = await Bicep.CompileAsync(Path.Combine(RepositoryLayout.BicepDirectory, "main.bicep"), timeout.Token);
        BicepStack = Stacks.BicepStack.Describe(snapshot, compiledMain);
        TerraformStack = Stacks.TerraformStack.Describe(await TerraformConfiguration.LoadAsync(RepositoryLayout.TerraformDirectory, timeout.Token));
        Azurerm = await schema;
        TerraformValidator = new TerraformValidator(Azurerm, Bicep);
    }

    public Task DisposeAsync()
    {
        snapshot?.Dispose();
        compiledMain?.Dispose();
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class InfraCollection : ICollectionFixture<InfraFixture>
{
    public const string Name = "infrastructure";
}
