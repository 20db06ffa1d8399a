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
    public const string StorageBlobServiceUri = StorageNames.ConnectionName + "__blobServiceUri";
    public const string StorageQueueServiceUri = StorageNames.ConnectionName + "__queueServiceUri";
    public const string StorageTableServiceUri = StorageNames.ConnectionName + "__tableServiceUri";
    public const string StorageCredential = StorageNames.ConnectionName + "__credential";
    public const string StorageClientId = StorageNames.ConnectionName + "__clientId";
}
