using System.Text.Json;
using System.Text.Json.Nodes;
using ShortcutPipeline.Infra.Tests.Bicep;
using ShortcutPipeline.Infra.Tests.Stacks;
using ShortcutPipeline.Infra.Tests.Terraform;
using ShortcutPipeline.Infra.Tests.Tooling;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>The validators and both stacks' descriptions, built once for all infrastructure tests.</summary>
public sealed class InfraFixture : IAsyncLifetime
{
    /// <summary>The operator principal id (a user's object id) that the *WithOperator descriptions are deployed with.</summary>
    public const string OperatorPrincipalId = "0f1e2d3c-4b5a-6978-8a9b-acbdcedff012";

    private readonly List<JsonDocument> documents = [];
    private readonly Lazy<Task<StackDescription>> bicepWithOperator;
    private JsonDocument? compiledMain;

    public InfraFixture() => bicepWithOperator = new(async () =>
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        JsonDocument snapshot = Keep(await Bicep.SnapshotAsync(MainParameters, timeout.Token, new Dictionary<string, JsonNode?> { ["operatorPrincipalId"] = OperatorPrincipalId }));
        return Stacks.BicepStack.Describe(snapshot, compiledMain!);
    });

    /// <summary>infra/bicep/main.bicepparam.</summary>
    public static string MainParameters => Path.Combine(RepositoryLayout.BicepDirectory, "main.bicepparam");

    public BicepCli Bicep { get; } = BicepCli.FromNuGetPackage();

    public AzurermSchema Azurerm { get; private set; } = null!;

    public TerraformValidator TerraformValidator { get; private set; } = null!;

    public TerraformConfiguration Terraform { get; private set; } = null!;

    /// <summary>The Bicep stack deployed with main.bicepparam.</summary>
    public StackDescription BicepStack { get; private set; } = null!;

    /// <summary>The Terraform stack applied with terraform.tfvars.example.</summary>
    public StackDescription TerraformStack { get; private set; } = null!;

    /// <summary>The Bicep stack deployed with main.bicepparam and the operator principal <see cref="OperatorPrincipalId"/>.</summary>
    public Task<StackDescription> BicepStackWithOperatorAsync() => bicepWithOperator.Value;

    /// <summary>The Terraform stack applied with terraform.tfvars.example and the operator principal <see cref="OperatorPrincipalId"/>.</summary>
    public StackDescription TerraformStackWithOperator { get; private set; } = null!;

    /// <summary>The parameter values of main.bicepparam (bicep build-params), snake_case.</summary>
    public IReadOnlyDictionary<string, JsonNode?> BicepExampleValues { get; private set; } = null!;

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
        compiledMain = Keep(await Bicep.CompileAsync(Path.Combine(RepositoryLayout.BicepDirectory, "main.bicep"), timeout.Token));
        BicepStack = Stacks.BicepStack.Describe(Keep(await Bicep.SnapshotAsync(MainParameters, timeout.Token)), compiledMain);
        BicepExampleValues = await Bicep.ParameterValuesAsync(MainParameters, timeout.Token);
        Terraform = await TerraformConfiguration.LoadAsync(RepositoryLayout.TerraformDirectory, timeout.Token);
        TerraformStack = Stacks.TerraformStack.Describe(Terraform);
        TerraformStackWithOperator = Stacks.TerraformStack.Describe(Terraform, new Dictionary<string, JsonNode?> { ["operator_principal_id"] = OperatorPrincipalId });
        Azurerm = await schema;
        TerraformValidator = new TerraformValidator(Azurerm, Bicep);
    }

    public Task DisposeAsync()
    {
        lock (documents)
        {
            documents.ForEach(document => document.Dispose());
        }
        return Task.CompletedTask;
    }

    private JsonDocument Keep(JsonDocument document)
    {
        lock (documents)
        {
            documents.Add(document);
        }
        return document;
    }
}

[CollectionDefinition(Name)]
public sealed class InfraCollection : ICollectionFixture<InfraFixture>
{
    public const string Name = "infrastructure";
}
