using System.Text.Json.Nodes;
using ShortcutPipeline.Infra.Tests.Stacks;
using ShortcutPipeline.Infra.Tests.Terraform;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>
/// The Bicep and Terraform stacks deploy the same system: the same resources, parameters with the same defaults
/// and input checks, and apps with the same values (settings, probes, scaling, identities, roles). Values known
/// only at deployment are compared as <see cref="ArmToken"/>s (which resource, which property).
/// </summary>
[Collection(InfraCollection.Name)]
public sealed class StackParityTests(InfraFixture fixture)
{
    /// <summary>Parameters whose default each stack expresses its own way: Bicep's resourceGroup().location, Terraform's null (coalesce with the group's).</summary>
    private static readonly string[] StackSpecificDefaults = ["location"];

    public static TheoryData<PipelineApp> Apps => new(Enum.GetValues<PipelineApp>());

    [Fact]
    public void BothStacksDeclareTheSameResources()
    {
        IReadOnlyDictionary<string, int> bicep = fixture.BicepStack.ResourceCounts;
        IReadOnlyDictionary<string, int> terraform = fixture.TerraformStack.ResourceCounts;

        var differences = bicep.Keys.Union(terraform.Keys).Order(StringComparer.Ordinal)
            .Where(type => bicep.GetValueOrDefault(type) != terraform.GetValueOrDefault(type))
            .Select(type => $"{type}: Bicep {bicep.GetValueOrDefault(type)}, Terraform {terraform.GetValueOrDefault(type)}")
            .ToList();

        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
        Assert.Contains("Microsoft.App/managedEnvironments", bicep.Keys);
        Assert.Equal(11, bicep[ArmShapes.RoleAssignment]);
    }

    [Fact]
    public void BothStacksTakeTheSameParameters()
    {
        Assert.Equal(
            fixture.BicepStack.Parameters.Keys.Order(StringComparer.Ordinal),
            fixture.TerraformStack.Parameters.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("gpu_type", fixture.BicepStack.Parameters.Keys);
        Assert.Contains("worker_max_replicas", fixture.BicepStack.Parameters.Keys);
    }

    [Fact]
    public void SharedParametersHaveTheSameDefaults()
    {
        var differences = SharedParameters()
            .Where(name => !StackSpecificDefaults.Contains(name))
            .SelectMany(name => CanonicalJson.Differences(fixture.BicepStack.Parameters[name].Default, fixture.TerraformStack.Parameters[name].Default, "Bicep", "Terraform")
                .Select(difference => $"{name}: {difference}"))
            .ToList();

        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
    }

    [Fact]
    public void TheExampleFilesSetTheSameValues()
    {
        IReadOnlyDictionary<string, JsonNode?> bicep = fixture.BicepExampleValues;
        var terraform = fixture.Terraform.ExampleValues
            .Where(value => !TerraformStack.ScopeVariables.Contains(value.Key))
            .ToDictionary(value => value.Key, value => TerraformEvaluator.ToNode(value.Value), StringComparer.Ordinal);

        Assert.Equal(bicep.Keys.Order(StringComparer.Ordinal), terraform.Keys.Order(StringComparer.Ordinal));
        var differences = bicep.Keys.SelectMany(name => CanonicalJson.Differences(bicep[name], terraform[name], "main.bicepparam", "terraform.tfvars.example")
            .Select(difference => $"{name}: {difference}")).ToList();
        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
    }

    [Fact]
    public async Task BothStacksRefuseAndAcceptTheSameParameterValues()
    {
        var missing = SharedParameters().Where(name => !ParameterProbes.Values.ContainsKey(name)).ToList();
        Assert.True(missing.Count == 0, $"add probe values for {string.Join(", ", missing)} to ParameterProbes");

        IReadOnlyList<ProbeOutcome> outcomes = await ParameterProbes.RunAsync(fixture, SharedParameters());

        var differences = outcomes.Where(outcome => outcome.BicepAccepts != outcome.TerraformAccepts).Select(outcome => outcome.ToString()).ToList();
        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
        Assert.Contains(outcomes, outcome => !outcome.BicepAccepts); // the probes do reach the checks
    }

    [Fact]
    public void BothStacksTreatTheSameParametersAsSecrets()
    {
        Assert.Equal(
            fixture.BicepStack.Parameters.Where(parameter => parameter.Value.Sensitive).Select(parameter => parameter.Key).Order(StringComparer.Ordinal),
            fixture.TerraformStack.Parameters.Where(parameter => parameter.Value.Sensitive).Select(parameter => parameter.Key).Order(StringComparer.Ordinal));
        Assert.True(fixture.BicepStack.Parameters.TryGetValue(CallbackSigningSecretTests.Parameter, out StackParameter? secret) && secret.Sensitive,
            $"Bicep has no secure {CallbackSigningSecretTests.Parameter}");
    }

    [Theory]
    [MemberData(nameof(Apps))]
    public void BothStacksGiveEachAppTheSameSettings(PipelineApp app)
    {
        AssertSameSettings(fixture.BicepStack, fixture.TerraformStack, app);
        Assert.Equal(new AppSetting("managedidentity", null), fixture.BicepStack.AppSettings[app]["ShortcutStorage__credential"]);
    }

    [Theory]
    [MemberData(nameof(Apps))]
    public async Task BothStacksGiveEachAppTheSameSettingsWithACallbackSecret(PipelineApp app)
    {
        StackDescription bicep = await fixture.BicepStackWithCallbackSecretAsync();

        AssertSameSettings(bicep, fixture.TerraformStackWithCallbackSecret, app);
        Assert.Equal(app != PipelineApp.Trainer, bicep.AppSettings[app].ContainsKey(CallbackSigningSecretTests.Setting));
    }

    [Theory]
    [MemberData(nameof(Apps))]
    public void BothStacksConfigureEachAppTheSame(PipelineApp app) =>
        AssertSameProperties(fixture.BicepStack, fixture.TerraformStack, app);

    [Theory]
    [MemberData(nameof(Apps))]
    public async Task BothStacksConfigureEachAppTheSameWithACallbackSecret(PipelineApp app) =>
        AssertSameProperties(await fixture.BicepStackWithCallbackSecretAsync(), fixture.TerraformStackWithCallbackSecret, app);

    /// <summary>The same settings by name, each with the same value or the same secretRef.</summary>
    private static void AssertSameSettings(StackDescription bicepStack, StackDescription terraformStack, PipelineApp app)
    {
        IReadOnlyDictionary<string, AppSetting> bicep = bicepStack.AppSettings[app];
        IReadOnlyDictionary<string, AppSetting> terraform = terraformStack.AppSettings[app];

        var differences = bicep.Keys.Union(terraform.Keys).Order(StringComparer.Ordinal)
            .Where(name => bicep.GetValueOrDefault(name) != terraform.GetValueOrDefault(name))
            .Select(name => $"{name}: Bicep {bicep.GetValueOrDefault(name)?.ToString() ?? "(not set)"}, Terraform {terraform.GetValueOrDefault(name)?.ToString() ?? "(not set)"}")
            .ToList();

        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
    }

    private static void AssertSameProperties(StackDescription bicep, StackDescription terraform, PipelineApp app)
    {
        Assert.True(terraform.AppProperties.ContainsKey(app), $"Terraform deploys no {app}");

        IReadOnlyList<string> differences = CanonicalJson.Differences(bicep.AppProperties[app], terraform.AppProperties[app], "Bicep", "Terraform");

        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
    }

    [Fact]
    public async Task BothStacksGrantTheSameRoles()
    {
        AssertSameGrants(fixture.BicepStack, fixture.TerraformStack);
        AssertSameGrants(await fixture.BicepStackWithOperatorAsync(), fixture.TerraformStackWithOperator);
    }

    private static void AssertSameGrants(StackDescription bicep, StackDescription terraform)
    {
        List<string> inBicep = Grants(bicep), inTerraform = Grants(terraform);
        var differences = inBicep.Except(inTerraform).Select(grant => $"only in Bicep: {grant}")
            .Concat(inTerraform.Except(inBicep).Select(grant => $"only in Terraform: {grant}")).ToList();
        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
        Assert.Equal(inBicep.Count, inTerraform.Count);
    }

    [Fact]
    public void BothStacksHaveTheSameOutputs() =>
        Assert.Equal(fixture.BicepStack.Outputs.Order(StringComparer.Ordinal), fixture.TerraformStack.Outputs.Order(StringComparer.Ordinal));

    [Fact]
    public void BothStacksSetTheSamePublishingCredentialPolicies() =>
        Assert.Equal(
            fixture.BicepStack.PublishingCredentials.OrderBy(policy => policy.Key, StringComparer.Ordinal),
            fixture.TerraformStack.PublishingCredentials.OrderBy(policy => policy.Key, StringComparer.Ordinal));

    private IEnumerable<string> SharedParameters() =>
        fixture.BicepStack.Parameters.Keys.Intersect(fixture.TerraformStack.Parameters.Keys).Order(StringComparer.Ordinal);

    private static List<string> Grants(StackDescription stack) =>
        stack.RoleGrants.Select(grant => $"{grant.Principal} {BuiltInRoles.NameOf(grant.RoleDefinitionId)} on {grant.Scope} ({grant.PrincipalType})")
            .Order(StringComparer.Ordinal).ToList();
}
