namespace ShortcutPipeline.Core;

/// <summary>
/// The app settings (environment variables) that the functions, the worker and the trainer read.
/// Infrastructure tests check that both deployment stacks set each of them. A double underscore
/// is the environment-variable form of a configuration section separator.
/// </summary>
public static class SettingNames
{
    /// <summary>Local: a storage connection string. Azure: the identity-based settings below.</summary>
    public const string StorageConnection = StorageNames.ConnectionName;

    /// <summary>Azure: the blob service URI of the storage account (identity-based connection).</summary>
    public const string StorageBlobServiceUri = StorageNames.ConnectionName + "__blobServiceUri";

    /// <summary>Azure: the queue service URI of the storage account (identity-based connection).</summary>
    public const string StorageQueueServiceUri = StorageNames.ConnectionName + "__queueServiceUri";

    /// <summary>Azure: the table service URI of the storage account (identity-based connection).</summary>
    public const string StorageTableServiceUri = StorageNames.ConnectionName + "__tableServiceUri";

    /// <summary>Azure: <c>managedidentity</c> to use a managed identity; otherwise DefaultAzureCredential is used.</summary>
    public const string StorageCredential = StorageNames.ConnectionName + "__credential";

    /// <summary>Azure: the client id of the user-assigned managed identity (absent: the system-assigned one).</summary>
    public const string StorageClientId = StorageNames.ConnectionName + "__clientId";
}
