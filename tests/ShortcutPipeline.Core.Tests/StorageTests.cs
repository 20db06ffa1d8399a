using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

public sealed class StorageTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task EnsureCreatedMakesEveryQueuePoisonQueueContainerAndTable()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();

        foreach (QueueClient queue in new[] { storage.JobsQueue, storage.WorkQueue, storage.TrainingQueue })
        {
            Assert.True(await queue.ExistsAsync());
            Assert.True(await storage.PoisonQueueOf(queue).ExistsAsync());
        }

        Assert.True(await storage.ImagesContainer.ExistsAsync());
        Assert.True(await storage.CheckpointsContainer.ExistsAsync());
        Assert.True(await storage.DatasetsContainer.ExistsAsync());
        var tables = new List<string>();
        await foreach (var table in storage.Clients.TableService.QueryAsync())
        {
            tables.Add(table.Name);
        }

        Assert.Contains(storage.Options.JobsTable, tables);
        Assert.Contains(storage.Options.RunsTable, tables);
        await storage.EnsureCreatedAsync(); // and again: nothing to do, no error
    }

    [Fact]
    public async Task QueueMessagesArePlainText()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();

        await storage.JobsQueue.SendMessageAsync("""{"plain": true}""");
        // A client that decodes nothing sees the same text: nothing was base64-encoded on the way.
        var raw = new QueueClient(azurite.ConnectionString, storage.Options.JobsQueue);
        QueueMessage message = (await raw.ReceiveMessageAsync()).Value;

        Assert.Equal("""{"plain": true}""", message.Body.ToString());
    }

    [Fact]
    public void PrefixedNamesAreValidAndDistinct()
    {
        PipelineStorageOptions names = PipelineStorageOptions.WithPrefix("t0123");

        Assert.Equal("t0123-generation-jobs", names.JobsQueue);
        Assert.Equal("t0123jobs", names.JobsTable);
        Assert.Equal(8, names.Queues.Concat(names.Containers).Concat(names.Tables).Distinct().Count());
        Assert.Throws<ArgumentException>(() => PipelineStorageOptions.WithPrefix("Bad-Prefix"));
        Assert.Equal(StorageNames.JobsQueue, new PipelineStorageOptions().JobsQueue);
    }

    [Fact]
    public void IdentitySettingsGiveTokenClientsForTheConfiguredUris()
    {
        IConfiguration configuration = Configure(new(ServiceUris())
        {
            [SettingNames.StorageCredential] = "managedidentity",
            [SettingNames.StorageClientId] = "00000000-0000-0000-0000-000000000001",
        });

        PipelineStorageClients clients = PipelineStorageClients.FromConfiguration(configuration);

        Assert.True(clients.UsesIdentity);
        Assert.Equal("acct.blob.core.windows.net", clients.BlobService.Uri.Host);
        Assert.Equal("acct.queue.core.windows.net", clients.QueueService.Uri.Host);
        Assert.Equal("acct.table.core.windows.net", clients.TableService.Uri.Host);
        Assert.False(clients.BlobService.CanGenerateAccountSasUri);
    }

    [Fact]
    public void TheOperatorsServiceUrisWithoutACredentialSettingSignInWithDefaultAzureCredential()
    {
        // The deploy guide's CLI settings (infra/README.md, "Point the CLI at the storage account"): the three URIs
        // only, so that the operator's `az login` (or AZURE_* environment credentials) signs the CLI in.
        IConfiguration configuration = Configure(ServiceUris());

        PipelineStorageClients clients = PipelineStorageClients.FromConfiguration(configuration);

        Assert.True(clients.UsesIdentity);
        Assert.IsType<Azure.Identity.DefaultAzureCredential>(PipelineStorageClients.CreateCredential(configuration));
        Assert.IsType<Azure.Identity.ManagedIdentityCredential>(PipelineStorageClients.CreateCredential(Configure(new() { [SettingNames.StorageCredential] = "managedidentity" })));
    }

    [Fact]
    public void MissingStorageSettingsAreNamed()
    {
        IConfiguration configuration = Configure(new() { [SettingNames.StorageBlobServiceUri] = "https://acct.blob.core.windows.net" });

        var error = Assert.Throws<InvalidOperationException>(() => PipelineStorageClients.FromConfiguration(configuration));

        Assert.Contains("ShortcutStorage__queueServiceUri, ShortcutStorage__tableServiceUri", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServicesRegisterFromConfiguration()
    {
        PipelineStorageOptions names = AzuriteFixture.CreateIsolatedNames();
        IConfiguration configuration = Configure(new()
        {
            [SettingNames.StorageConnection] = azurite.ConnectionString,
            ["ShortcutPipeline__Storage__JobsTable"] = names.JobsTable,
            ["ShortcutPipeline__Storage__CheckpointsContainer"] = names.CheckpointsContainer,
            ["ShortcutPipeline__Jobs__MaxImagesPerWorkItem"] = "4",
            ["ShortcutPipeline__Status__ImageLinks"] = "Plain",
        });
        await using ServiceProvider services = new ServiceCollection().AddShortcutPipelineCore(configuration).BuildServiceProvider();

        PipelineStorage storage = services.GetRequiredService<PipelineStorage>();
        await storage.EnsureCreatedAsync();

        Assert.Equal(names.JobsTable, storage.Options.JobsTable);
        Assert.Equal(4, services.GetRequiredService<Contracts.GenerationJobLimits>().MaxImagesPerWorkItem);
        Assert.Equal(ImageLinkMode.Plain, services.GetRequiredService<JobStatusOptions>().ImageLinks);
        Assert.Null(await services.GetRequiredService<JobStatusService>().GetAsync("nothing"));
        Assert.Null(await services.GetRequiredService<ModelRegistry>().GetLatestAsync("fashion"));
        Assert.NotNull(services.GetRequiredService<JobIntake>());
        Assert.NotNull(services.GetRequiredService<JobProgress>());
    }

    // The identity-based connection's three service URIs, of an account "acct".
    private static Dictionary<string, string?> ServiceUris() => new()
    {
        [SettingNames.StorageBlobServiceUri] = "https://acct.blob.core.windows.net/",
        [SettingNames.StorageQueueServiceUri] = "https://acct.queue.core.windows.net/",
        [SettingNames.StorageTableServiceUri] = "https://acct.table.core.windows.net/",
    };

    // Settings as app settings name them ("__"), read the way the hosts read environment variables.
    private static IConfiguration Configure(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.ToDictionary(p => p.Key.Replace("__", ":", StringComparison.Ordinal), p => p.Value))
            .Build();
}
