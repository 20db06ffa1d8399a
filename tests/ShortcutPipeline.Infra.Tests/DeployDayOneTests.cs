using System.Text.Json.Nodes;
using ShortcutPipeline.Infra.Tests.Stacks;
using ShortcutPipeline.Infra.Tests.Terraform;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>
/// A fresh deployment serves a job: the operator gets data roles, the Functions host starts on identity-based
/// storage, the GPU apps have health probes and scale down soon, basic-auth publishing is off, and a bad name
/// prefix is refused before anything is created. Each in both stacks.
/// </summary>
[Collection(InfraCollection.Name)]
public sealed class DeployDayOneTests(InfraFixture fixture)
{
    /// <summary>The health server's port setting of the worker and the trainer (HealthOptions, section ShortcutPipeline:Health).</summary>
    public const string HealthPortSetting = "ShortcutPipeline__Health__Port";

    /// <summary>What the operator needs for the deploy guide: upload datasets and models (blobs), enqueue (queues), status (tables).</summary>
    private static readonly string[] OperatorRoles = ["Storage Blob Data Contributor", "Storage Queue Data Contributor", "Storage Table Data Contributor"];

    private static readonly string StorageAccount = ArmToken.Of("Microsoft.Storage/storageAccounts", "", single: true, "id");

    public static TheoryData<string> Stacks => new() { "bicep", "terraform" };

    public static TheoryData<string, PipelineApp> GpuApps => new()
    {
        { "bicep", PipelineApp.Worker }, { "bicep", PipelineApp.Trainer }, { "terraform", PipelineApp.Worker }, { "terraform", PipelineApp.Trainer },
    };

    [Theory]
    [MemberData(nameof(Stacks))]
    public async Task TheOperatorPrincipalGetsTheDataRolesOnTheStorageAccount(string stack)
    {
        StackDescription withOperator = stack == "bicep" ? await fixture.BicepStackWithOperatorAsync() : fixture.TerraformStackWithOperator;

        var granted = withOperator.RoleGrants.Where(grant => grant.Principal == InfraFixture.OperatorPrincipalId).ToList();

        Assert.Equal(OperatorRoles, granted.Select(grant => BuiltInRoles.NameOf(grant.RoleDefinitionId)).Order(StringComparer.Ordinal));
        Assert.All(granted, grant => Assert.Equal((StorageAccount, "User"), (grant.Scope, grant.PrincipalType)));
        Assert.Equal("", fixture.Stack(stack).Parameters["operator_principal_id"].Default?.GetValue<string>());
        Assert.DoesNotContain(fixture.Stack(stack).RoleGrants, grant => !ArmToken.Contains(grant.Principal)); // no operator: no grant to anyone but the apps
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheFunctionsAppGetsNoConnectionStringAzureWebJobsStorage(string stack)
    {
        IReadOnlyDictionary<string, AppSetting> settings = fixture.Stack(stack).AppSettings[PipelineApp.Functions];

        // An AzureWebJobsStorage setting, even empty, makes the host look for a connection string before the
        // identity-based AzureWebJobsStorage__* settings; an empty one never converges in Terraform either.
        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        Assert.Contains("AzureWebJobsStorage__credential", settings.Keys);
    }

    [Fact]
    public void TheTerraformStackDoesNotUseTheFlexConsumptionResourceThatWritesItsOwnAzureWebJobsStorage()
    {
        // azurerm_function_app_flex_consumption writes a connection-string AzureWebJobsStorage with an empty key
        // (hashicorp/terraform-provider-azurerm#29693): the app is an azapi Microsoft.Web/sites resource instead.
        Assert.DoesNotContain(fixture.Terraform.Resources, resource => resource.Type == "azurerm_function_app_flex_consumption");
        Assert.DoesNotContain(fixture.Terraform.Locals.Values.SelectMany(value => TerraformExpressions.Strings(value)),
            found => found.Path.Split('.')[^1] == "AzureWebJobsStorage");
    }

    [Theory]
    [MemberData(nameof(GpuApps))]
    public void TheGpuAppsRunTheirCommandOfTheOneImage(string stack, PipelineApp app)
    {
        JsonObject container = Assert.Single(ArmShapes.AppContainers(fixture.Stack(stack).AppProperties[app]));
        string[] args = (container["args"]?.AsArray() ?? []).Select(arg => arg!.GetValue<string>()).ToArray();

        // The image's entry point is `dotnet shortcut.dll`; the worker app serves, the trainer job trains one request and exits.
        Assert.Equal(app == PipelineApp.Worker ? ["worker"] : ["trainer", "--once"], args);
        Assert.Null(container["command"]);
    }

    [Theory]
    [MemberData(nameof(GpuApps))]
    public void TheGpuAppsHaveHealthProbesOnTheHealthPort(string stack, PipelineApp app)
    {
        JsonObject container = Assert.Single(ArmShapes.AppContainers(fixture.Stack(stack).AppProperties[app]));
        IReadOnlyDictionary<string, AppSetting> settings = fixture.Stack(stack).AppSettings[app];
        Assert.True(settings.TryGetValue(HealthPortSetting, out AppSetting? setting), $"{stack}: the {app} gets no {HealthPortSetting}");
        Assert.Equal(new AppSetting("8080", null), setting);
        string port = setting.Value!;

        var probes = (container["probes"]?.AsArray() ?? []).OfType<JsonObject>().ToDictionary(probe => probe["type"]!.GetValue<string>());

        Assert.Equal(["Liveness", "Readiness", "Startup"], probes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(("/healthz", "/readyz", "/healthz"), (Path(probes["Liveness"]), Path(probes["Readiness"]), Path(probes["Startup"])));
        Assert.All(probes.Values, probe => Assert.Equal(port, probe["httpGet"]?["port"]?.ToString()));
        // The startup probe holds liveness off while the host starts (libtorch and CUDA load): ten tries at most (Container Apps' limit).
        Assert.True(Seconds(probes["Startup"], "periodSeconds") * Seconds(probes["Startup"], "failureThreshold") >= 120, "the startup probe gives up before two minutes");
        Assert.True(Seconds(probes["Startup"], "failureThreshold") <= 10);
    }

    [Theory]
    [InlineData("azurerm_container_app")]
    [InlineData("azurerm_container_app_job")]
    public void ContainerAppsAndJobsTakeTheThreeProbes(string type)
    {
        // Both stacks deploy these two as azapi bodies; azurerm's schema says which probes each resource type takes.
        BlockSchema container = fixture.Azurerm.Resources[type].Blocks["template"].Schema.Blocks["container"].Schema;

        Assert.Subset(container.Blocks.Keys.ToHashSet(), new HashSet<string> { "liveness_probe", "readiness_probe", "startup_probe" });
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheWorkerScalesToZeroAfterTheCooldownParameter(string stack)
    {
        StackDescription description = fixture.Stack(stack);
        JsonNode? cooldown = description.AppProperties[PipelineApp.Worker]["template"]?["scale"]?["cooldownPeriod"];

        Assert.True(description.Parameters.TryGetValue("worker_cooldown_seconds", out StackParameter? parameter), $"{stack} has no worker cooldown parameter");
        Assert.Equal(parameter.Default?.ToJsonString(), CanonicalJson.Of(cooldown)?.ToJsonString());
        Assert.True(CanonicalJson.TryGetNumber(cooldown, out decimal seconds) && seconds < 300, $"cooldown {cooldown}: no shorter than Container Apps' 300 s");
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public void BasicAuthPublishingIsOff(string stack) =>
        Assert.False(fixture.Stack(stack).PublishingCredentials.GetValueOrDefault("scm", true), $"{stack} leaves basic-auth publishing (scm) on");

    [Fact]
    public async Task BothStacksRefuseANamePrefixThatIsNotLowercaseLettersAndDigits()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));

        InvalidOperationException refused = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            fixture.Bicep.SnapshotAsync(InfraFixture.MainParameters, timeout.Token, new Dictionary<string, JsonNode?> { ["namePrefix"] = "Short-1" }));

        Assert.Contains("3 to 10 lowercase letters or digits", refused.Message, StringComparison.Ordinal);
        Assert.NotEmpty(fixture.TerraformStack.Parameters["name_prefix"].Problems("Short-1"));
    }

    private static string? Path(JsonObject probe) => probe["httpGet"]?["path"]?.GetValue<string>();

    private static decimal Seconds(JsonObject probe, string property) =>
        CanonicalJson.TryGetNumber(probe[property], out decimal value) ? value : 1;
}
