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

    /// <summary>
    /// The Functions app: the NCRONTAB schedule of the training timer (six fields, seconds first), read by the host as
    /// <c>%Training:Schedule%</c>; it must be set or the Functions host does not start. See <c>TrainingScheduleOptions</c>.
    /// </summary>
    public const string TrainingSchedule = "Training__Schedule";

    /// <summary>The Functions app: how long after the last successful run of a model a new one is due (a TimeSpan, e.g. 7.00:00:00).</summary>
    public const string TrainingInterval = "Training__Interval";

    /// <summary>The Functions app: the training request (JSON, without a run id) that the timer launches; empty: none.</summary>
    public const string TrainingRequest = "Training__Request";

    /// <summary>
    /// The connection string of Application Insights: when set, the functions, the worker and the trainer export their traces,
    /// metrics and logs there (see <c>Telemetry.TelemetryOptions</c>); when not, to standard output.
    /// </summary>
    public const string ApplicationInsightsConnectionString = "APPLICATIONINSIGHTS_CONNECTION_STRING";
}
