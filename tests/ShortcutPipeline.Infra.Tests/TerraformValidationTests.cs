using ShortcutPipeline.Infra.Tests.Tooling;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>The Terraform stack parses, refers only to what it declares, and fits the azurerm and Resource Manager schemas.</summary>
[Collection(InfraCollection.Name)]
public sealed class TerraformValidationTests(InfraFixture fixture)
{
    [Fact]
    public async Task TheTerraformStackValidates()
    {
        IReadOnlyList<InfraDiagnostic> diagnostics = await fixture.TerraformValidator.ValidateAsync(RepositoryLayout.TerraformDirectory, CancellationToken.None);

        Assert.True(diagnostics.Count == 0, string.Join(Environment.NewLine, diagnostics));
    }

    [Fact]
    public void TheSchemaIsTheAzurermProvidersOwn()
    {
        Assert.Matches(@"^4\.\d+\.\d+$", fixture.Azurerm.ProviderVersion);
        Assert.True(fixture.Azurerm.Resources["azurerm_storage_account"].Attributes["shared_access_key_enabled"] == false);
        Assert.True(fixture.Azurerm.Resources["azurerm_function_app_flex_consumption"].Blocks["site_config"].Required);
    }

    [Theory]
    [InlineData("main.tf", "local.gpu_profiles[var.gpu_type]", "local.gpu_profiles[var.gpu_kind]", "undeclared var.gpu_kind")]
    [InlineData("container_apps.tf", "local.gpu.workload_profile_type", "local.gpus.workload_profile_type", "undeclared local.gpus")]
    [InlineData("outputs.tf", "azurerm_container_registry.main.login_server", "azurerm_container_registry.primary.login_server", "undeclared resource azurerm_container_registry.primary")]
    [InlineData("outputs.tf", "azurerm_storage_account.main.primary_queue_endpoint", "azurerm_storage_account.main.primary_queue_endpoints", "has no attribute 'primary_queue_endpoints'")]
    [InlineData("storage.tf", "  min_tls_version   ", "  minimum_tls_version", "unknown argument or block 'minimum_tls_version' (did you mean 'min_tls_version'?)")]
    [InlineData("functions.tf", "  sku_name            = \"FC1\"\n", "", "required argument or block 'sku_name' is missing")]
    [InlineData("versions.tf", "data_plane_available = false", "data_plane_enabled = false", "provider.azurerm.features.storage: unknown argument or block 'data_plane_enabled'")]
    [InlineData("container_apps.tf", "minReplicas    = var.worker_min_replicas", "minReplica     = var.worker_min_replicas", "BCP089")]
    [InlineData("container_apps.tf", "cooldownPeriod = var.worker_cooldown_seconds", "cooldownPeriod = \"2m\"", "BCP036")]
    [InlineData("functions.tf", "httpsOnly    = true", "httpsOnly    = \"yes\"", "BCP036")]
    [InlineData("functions.tf", "maximumInstanceCount = var.functions_maximum_instance_count", "maximumInstances = var.functions_maximum_instance_count", "BCP037")]
    [InlineData("storage.tf", "type      = \"Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01\"", "type      = \"Microsoft.Storage/storageAccounts/tableServices/tablez@2024-01-01\"", "BCP081")]
    [InlineData("variables.tf", "variable \"gpu_type\" {", "variable \"gpu_type\" {{", "HCL parse error")]
    public async Task ABrokenCopyOfTheTerraformStackFails(string file, string correct, string broken, string expectedMessage)
    {
        using TemporaryCopy copy = TemporaryCopy.Of(RepositoryLayout.TerraformDirectory);
        copy.ReplaceOnce(file, correct, broken);

        IReadOnlyList<InfraDiagnostic> diagnostics = await fixture.TerraformValidator.ValidateAsync(copy.Path, CancellationToken.None);

        Assert.True(
            diagnostics.Any(diagnostic => diagnostic.File == file && diagnostic.Message.Contains(expectedMessage, StringComparison.Ordinal)),
            $"Expected '{expectedMessage}' in {file}; found:{Environment.NewLine}{string.Join(Environment.NewLine, diagnostics)}");
    }

    [Fact]
    public async Task ARegistryModuleFails()
    {
        using TemporaryCopy copy = TemporaryCopy.Of(RepositoryLayout.TerraformDirectory);
        File.WriteAllText(Path.Combine(copy.Path, "network.tf"), "module \"network\" {\n  source = \"Azure/avm-res-network-virtualnetwork/azurerm\"\n}\n");

        IReadOnlyList<InfraDiagnostic> diagnostics = await fixture.TerraformValidator.ValidateAsync(copy.Path, CancellationToken.None);

        Assert.Contains(diagnostics, diagnostic => diagnostic.File == "network.tf" && diagnostic.Message.Contains("not a local path", StringComparison.Ordinal));
    }
}
