using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

namespace ShortcutPipeline.Core.Storage;

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
