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

    /// <summary>The callback signing secret that the *WithCallbackSecret descriptions are deployed with (a test value, in no example file).</summary>
    public const string CallbackSigningSecret = "test-only-callback-secret-5c1e9a";

    /// <summary>
    /// The Bicep files that declare the @secure() callbackSigningSecret parameter. bicep snapshot never evaluates a
    /// secure parameter's given value: every expression that uses it stays unevaluated. The *WithCallbackSecret
    /// snapshot is therefore made from a copy of the stack in which these declarations alone are not secure.
    /// </summary>
    public static readonly string[] CallbackSecretDeclarations = ["main.bicep", "modules/functions.bicep", "modules/worker.bicep"];

    /// <summary>How each of <see cref="CallbackSecretDeclarations"/> declares the parameter.</summary>
    public const string SecureCallbackSecretDeclaration = "@secure()\nparam callbackSigningSecret string";

    private readonly List<JsonDocument> documents = [];
    private readonly Lazy<Task<StackDescription>> bicepWithOperator;
    private readonly Lazy<Task<StackDescription>> bicepWithCallbackSecret;
    private JsonDocument? compiledMain;

    public InfraFixture()
    {
        bicepWithOperator = new(async () =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            JsonDocument snapshot = Keep(await Bicep.SnapshotAsync(MainParameters, timeout.Token, new Dictionary<string, JsonNode?> { ["operatorPrincipalId"] = OperatorPrincipalId }));
            return Stacks.BicepStack.Describe(snapshot, compiledMain!);
        });
        bicepWithCallbackSecret = new(async () =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            using TemporaryCopy copy = TemporaryCopy.Of(RepositoryLayout.BicepDirectory);
            foreach (string file in CallbackSecretDeclarations)
            {
                copy.ReplaceOnce(file, SecureCallbackSecretDeclaration, "param callbackSigningSecret string");
            }
            // The linter's own checks of the real stack (BicepValidationTests) would rightly refuse the copy.
            if (File.Exists(Path.Combine(copy.Path, "bicepconfig.json")))
            {
                throw new InvalidOperationException("infra/bicep has a bicepconfig.json: merge the copy's linter settings into it.");
            }
            File.WriteAllText(Path.Combine(copy.Path, "bicepconfig.json"), """
                { "analyzers": { "core": { "rules": {
                  "secure-secrets-in-params": { "level": "off" },
                  "use-secure-value-for-secure-inputs": { "level": "off" } } } } }
                """);
            JsonDocument snapshot = Keep(await Bicep.SnapshotAsync(
                Path.Combine(copy.Path, "main.bicepparam"), timeout.Token, new Dictionary<string, JsonNode?> { ["callbackSigningSecret"] = CallbackSigningSecret }));
            // The parameters are those of the real template (compiledMain), secure ones included.
            return Stacks.BicepStack.Describe(snapshot, compiledMain!);
        });
    }

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

    /// <summary>
    /// The Bicep stack deployed with main.bicepparam and the callback signing secret <see cref="CallbackSigningSecret"/>
    /// (snapshot of a copy whose callbackSigningSecret declarations are not secure; see <see cref="CallbackSecretDeclarations"/>).
    /// </summary>
    public Task<StackDescription> BicepStackWithCallbackSecretAsync() => bicepWithCallbackSecret.Value;

    /// <summary>The Terraform stack applied with terraform.tfvars.example and the callback signing secret <see cref="CallbackSigningSecret"/>.</summary>
    public StackDescription TerraformStackWithCallbackSecret { get; private set; } = null!;

    /// <summary>The compiled infra/bicep/main.bicep (ARM JSON, the modules as nested templates).</summary>
    public JsonDocument CompiledMain => compiledMain ?? throw new InvalidOperationException("The fixture is not initialised.");

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
        TerraformStackWithCallbackSecret = Stacks.TerraformStack.Describe(Terraform, new Dictionary<string, JsonNode?> { ["callback_signing_secret"] = CallbackSigningSecret });
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
