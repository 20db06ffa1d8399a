using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

// The pipeline's storage: the service clients (from a connection string or the identity-based settings) and the queues,
// containers and tables they reach under the names of StorageLayout.cs.

namespace ShortcutPipeline.Core.Storage;

/// <summary>
/// The pipeline's queues, containers and tables: <see cref="PipelineStorageClients"/> plus the names of
/// <see cref="PipelineStorageOptions"/>. Every service of Core reaches storage through this class.
/// </summary>
public sealed class PipelineStorage
{
    /// <summary>Storage over <paramref name="clients"/> with the names of <paramref name="options"/>.</summary>
    public PipelineStorage(PipelineStorageClients clients, PipelineStorageOptions options)
    {
        Clients = clients ?? throw new ArgumentNullException(nameof(clients));
        Options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <summary>Storage for a connection string, with the default names unless <paramref name="options"/> says otherwise.</summary>
    public static PipelineStorage FromConnectionString(string connectionString, PipelineStorageOptions? options = null) =>
        new(PipelineStorageClients.FromConnectionString(connectionString), options ?? new PipelineStorageOptions());

    /// <summary>The service clients.</summary>
    public PipelineStorageClients Clients { get; }

    /// <summary>The names in use.</summary>
    public PipelineStorageOptions Options { get; }

    /// <summary>The queue users put generation jobs on.</summary>
    public QueueClient JobsQueue => Clients.QueueService.GetQueueClient(Options.JobsQueue);

    /// <summary>The queue of <see cref="Contracts.WorkItem"/> messages the GPU workers read.</summary>
    public QueueClient WorkQueue => Clients.QueueService.GetQueueClient(Options.WorkQueue);

    /// <summary>The queue of training requests.</summary>
    public QueueClient TrainingQueue => Clients.QueueService.GetQueueClient(Options.TrainingQueue);

    /// <summary>The poison queue of <paramref name="queue"/> (where messages go after failing too often).</summary>
    public QueueClient PoisonQueueOf(QueueClient queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        return Clients.QueueService.GetQueueClient(StorageNames.PoisonQueueOf(queue.Name));
    }

    /// <summary>The container of generated images (blob names from <see cref="ImageBlobNames"/>).</summary>
    public BlobContainerClient ImagesContainer => Clients.BlobService.GetBlobContainerClient(Options.ImagesContainer);

    /// <summary>The container of checkpoints and model manifests (see <see cref="Models.ModelRegistry"/>).</summary>
    public BlobContainerClient CheckpointsContainer => Clients.BlobService.GetBlobContainerClient(Options.CheckpointsContainer);

    /// <summary>The container of training data.</summary>
    public BlobContainerClient DatasetsContainer => Clients.BlobService.GetBlobContainerClient(Options.DatasetsContainer);

    /// <summary>The table of job status records.</summary>
    public TableClient JobsTable => Clients.TableService.GetTableClient(Options.JobsTable);

    /// <summary>The table of training run records.</summary>
    public TableClient RunsTable => Clients.TableService.GetTableClient(Options.RunsTable);

    /// <summary>Creates every queue (and its poison queue), container and table that does not exist yet.</summary>
    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        var creations = new List<Task>();
        foreach (string queue in Options.Queues)
        {
            creations.Add(Clients.QueueService.GetQueueClient(queue).CreateIfNotExistsAsync(cancellationToken: cancellationToken));
            creations.Add(Clients.QueueService.GetQueueClient(StorageNames.PoisonQueueOf(queue))
                .CreateIfNotExistsAsync(cancellationToken: cancellationToken));
        }

        foreach (string container in Options.Containers)
        {
            creations.Add(Clients.BlobService.GetBlobContainerClient(container).CreateIfNotExistsAsync(cancellationToken: cancellationToken));
        }

        foreach (string table in Options.Tables)
        {
            creations.Add(Clients.TableService.GetTableClient(table).CreateIfNotExistsAsync(cancellationToken));
        }

        await Task.WhenAll(creations).ConfigureAwait(false);
    }
}

/// <summary>
/// The three service clients of the pipeline's storage account, made from either a connection string
/// (locally: Azurite) or the identity-based settings of <see cref="SettingNames"/> (in Azure).
/// Queue clients send and receive plain text (<see cref="QueueMessageEncoding.None"/>), which is what the
/// Functions host reads with <c>messageEncoding: none</c> in host.json.
/// </summary>
public sealed class PipelineStorageClients
{
    private PipelineStorageClients(
        QueueServiceClient queueService, BlobServiceClient blobService, TableServiceClient tableService, bool usesIdentity)
    {
        QueueService = queueService;
        BlobService = blobService;
        TableService = tableService;
        UsesIdentity = usesIdentity;
    }

    /// <summary>The queue service (plain-text messages).</summary>
    public QueueServiceClient QueueService { get; }

    /// <summary>The blob service.</summary>
    public BlobServiceClient BlobService { get; }

    /// <summary>The table service.</summary>
    public TableServiceClient TableService { get; }

    /// <summary>True when the clients authenticate with a token credential (no account key: SAS must be user-delegation SAS).</summary>
    public bool UsesIdentity { get; }

    /// <summary>Clients for the account of a connection string (for Azurite: its full connection string).</summary>
    public static PipelineStorageClients FromConnectionString(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return new PipelineStorageClients(
            new QueueServiceClient(connectionString, CreateQueueOptions()),
            new BlobServiceClient(connectionString),
            new TableServiceClient(connectionString),
            usesIdentity: false);
    }

    /// <summary>Clients for the given service URIs, authenticated with <paramref name="credential"/>.</summary>
    public static PipelineStorageClients FromServiceUris(
        Uri blobServiceUri, Uri queueServiceUri, Uri tableServiceUri, TokenCredential credential)
    {
        ArgumentNullException.ThrowIfNull(blobServiceUri);
        ArgumentNullException.ThrowIfNull(queueServiceUri);
        ArgumentNullException.ThrowIfNull(tableServiceUri);
        ArgumentNullException.ThrowIfNull(credential);
        return new PipelineStorageClients(
            new QueueServiceClient(queueServiceUri, credential, CreateQueueOptions()),
            new BlobServiceClient(blobServiceUri, credential),
            new TableServiceClient(tableServiceUri, credential),
            usesIdentity: true);
    }

    /// <summary>
    /// Clients from configuration: the connection string <see cref="SettingNames.StorageConnection"/> when it
    /// is set, otherwise the service URIs <see cref="SettingNames.StorageBlobServiceUri"/>,
    /// <see cref="SettingNames.StorageQueueServiceUri"/> and <see cref="SettingNames.StorageTableServiceUri"/>
    /// with a <see cref="ManagedIdentityCredential"/> when <see cref="SettingNames.StorageCredential"/> is
    /// <c>managedidentity</c> (user-assigned when <see cref="SettingNames.StorageClientId"/> is set), or a
    /// <see cref="DefaultAzureCredential"/> otherwise.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither form is configured completely.</exception>
    public static PipelineStorageClients FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string? connectionString = Read(configuration, SettingNames.StorageConnection);
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return FromConnectionString(connectionString);
        }

        var missing = new List<string>();
        Uri? blob = ReadUri(configuration, SettingNames.StorageBlobServiceUri, missing);
        Uri? queue = ReadUri(configuration, SettingNames.StorageQueueServiceUri, missing);
        Uri? table = ReadUri(configuration, SettingNames.StorageTableServiceUri, missing);
        if (blob is null || queue is null || table is null)
        {
            throw new InvalidOperationException(
                $"Storage is not configured: set {SettingNames.StorageConnection} to a connection string, or set " +
                $"{SettingNames.StorageBlobServiceUri}, {SettingNames.StorageQueueServiceUri} and " +
                $"{SettingNames.StorageTableServiceUri} (missing or not absolute URIs: {string.Join(", ", missing)}).");
        }

        return FromServiceUris(blob, queue, table, CreateCredential(configuration));
    }

    /// <summary>The credential the identity-based settings ask for.</summary>
    public static TokenCredential CreateCredential(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string? clientId = Read(configuration, SettingNames.StorageClientId);
        bool managedIdentity = string.Equals(
            Read(configuration, SettingNames.StorageCredential), "managedidentity", StringComparison.OrdinalIgnoreCase);
        if (managedIdentity)
        {
            return new ManagedIdentityCredential(string.IsNullOrWhiteSpace(clientId)
                ? ManagedIdentityId.SystemAssigned
                : ManagedIdentityId.FromUserAssignedClientId(clientId));
        }

        var options = new DefaultAzureCredentialOptions();
        if (!string.IsNullOrWhiteSpace(clientId))
        {
            options.ManagedIdentityClientId = clientId;
        }

        return new DefaultAzureCredential(options);
    }

    private static QueueClientOptions CreateQueueOptions() => new() { MessageEncoding = QueueMessageEncoding.None };

    // App settings use "__" as the section separator (environment-variable form); IConfiguration uses ":".
    private static string? Read(IConfiguration configuration, string settingName) =>
        configuration[settingName.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal)];

    private static Uri? ReadUri(IConfiguration configuration, string settingName, List<string> missing)
    {
        string? value = Read(configuration, settingName);
        if (Uri.TryCreate(value, UriKind.Absolute, out Uri? uri))
        {
            return uri;
        }

        missing.Add(settingName);
        return null;
    }
}
