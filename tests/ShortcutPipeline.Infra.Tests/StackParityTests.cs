using ShortcutPipeline.Infra.Tests.Stacks;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>The Bicep and Terraform stacks deploy the same system.</summary>
[Collection(InfraCollection.Name)]
public sealed class StackParityTests(InfraFixture fixture)
{
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
        Assert.Equal(11, bicep["Microsoft.Authorization/roleAssignments"]);
    }

    [Fact]
    public void BothStacksTakeTheSameParameters()
    {
        Assert.Equal(
            fixture.BicepStack.Parameters.Order(StringComparer.Ordinal),
            fixture.TerraformStack.Parameters.Order(StringComparer.Ordinal));
        Assert.Contains("gpu_type", fixture.BicepStack.Parameters);
        Assert.Contains("worker_max_replicas", fixture.BicepStack.Parameters);
    }

    [Fact]
    public void BothStacksGiveEachAppTheSameSettings()
    {
        foreach (PipelineApp app in Enum.GetValues<PipelineApp>())
        {
            Assert.Equal(
                fixture.BicepStack.AppSettings[app].Order(StringComparer.Ordinal),
                fixture.TerraformStack.AppSettings[app].Except(TerraformOnlySettings).Order(StringComparer.Ordinal));
        }
    }

    /// <summary>
    /// The empty AzureWebJobsStorage that the Terraform stack sets on the Functions app, over the broken value
    /// that azurerm_function_app_flex_consumption writes itself (see infra/README.md).
    /// </summary>
    private static readonly string[] TerraformOnlySettings = ["AzureWebJobsStorage"];
}
