using System.Net.Sockets;
using System.Runtime.Serialization;
using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

// The pipeline's storage: the service clients (from a connection string or the identity-based settings) and the queues,
// containers and tables they reach under the names of StorageLayout.cs (PipelineStorage, PipelineStorageClients); how the
// stores keep their table entities (TableRecord, LifecycleRecord, OptimisticTableUpdate, TableJson); how the loops ride out storage outages
// (StorageFailures, OutageBackoff).

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
/// <param name="QueueService">The queue service (plain-text messages).</param>
/// <param name="BlobService">The blob service.</param>
/// <param name="TableService">The table service.</param>
/// <param name="UsesIdentity">True when the clients authenticate with a token credential (no account key: SAS must be user-delegation SAS).</param>
public sealed record PipelineStorageClients(
    QueueServiceClient QueueService, BlobServiceClient BlobService, TableServiceClient TableService, bool UsesIdentity)
{
    /// <summary>Clients for the account of a connection string (for Azurite: its full connection string).</summary>
    public static PipelineStorageClients FromConnectionString(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return new PipelineStorageClients(
            new QueueServiceClient(connectionString, CreateQueueOptions()),
            new BlobServiceClient(connectionString),
            new TableServiceClient(connectionString),
            UsesIdentity: false);
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
            UsesIdentity: true);
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

// How the stores of the jobs and runs tables (Jobs/JobStatus.cs, Training/TrainingRunStore.cs) keep their entities: read,
// add, and read-modify-write with the ETag, and lists kept as JSON text.

/// <summary>What every table entity of the pipeline has: the table service's four properties, and a row key of its kind.</summary>
internal abstract class TableRecord(string rowKey) : ITableEntity
{
    public string PartitionKey { get; set; } = "";
    public string RowKey { get; set; } = rowKey;
    public DateTimeOffset? Timestamp { get; set; }
    public ETag ETag { get; set; }

    /// <summary>A copy under another row key of the same partition, to write as a new entity.</summary>
    public ITableEntity CopyAs(string rowKey)
    {
        var copy = (TableRecord)MemberwiseClone();
        copy.RowKey = rowKey;
        copy.ETag = default;
        return copy;
    }
}

/// <summary>
/// The record of something that is created, runs and ends (a job, a training run): its state (a column of the enum's
/// name), why it was rejected or failed, and when each step happened.
/// </summary>
internal abstract class LifecycleRecord<TState>(string rowKey, TState initial) : TableRecord(rowKey)
    where TState : struct, Enum
{
    public TState State { get; set; } = initial;
    public string? ReasonsJson { get; set; }

    [IgnoreDataMember]
    public IReadOnlyList<string> Reasons
    {
        get => TableJson.ReadStrings(ReasonsJson);
        set => ReasonsJson = TableJson.WriteStrings(value);
    }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
}

/// <summary>
/// Read-modify-write of one table entity with its ETag: when another writer got in between (HTTP 412), the
/// change is applied again to the fresh entity. Used by the job status and training run stores.
/// </summary>
internal static class OptimisticTableUpdate
{
    /// <summary>
    /// Applies <paramref name="change"/> (which returns false to leave the entity as it is), then
    /// <paramref name="stamp"/>, and writes the entity back if its ETag still matches, retrying on the fresh entity
    /// otherwise. The change may run more than once, so it must depend on the entity only. Returns the final
    /// entity (null: there is none) and whether this call changed it. With <paramref name="known"/>, the entity as this
    /// caller last read or wrote it (ETag included; it is changed in place), the first attempt changes and writes that
    /// without reading: one request instead of two while nobody else writes. The stored entity is read when the write
    /// is refused (another writer came between) or when the change would leave <paramref name="known"/> as it is (the
    /// decision is then the stored entity's, not a stale copy's).
    /// </summary>
    /// <exception cref="InvalidOperationException">The entity changed under every one of <paramref name="maxAttempts"/> attempts.</exception>
    public static async Task<(T? Entity, bool Changed)> UpdateAsync<T>(
        TableClient table, string partitionKey, string rowKey, Func<T, bool> change, Action<T> stamp, int maxAttempts,
        string description, CancellationToken cancellationToken, T? known = null)
        where T : class, ITableEntity
    {
        // Attempt 0 is the known entity's; it does not count against maxAttempts.
        for (int attempt = known is null ? 1 : 0; ; attempt++)
        {
            T? entity = attempt == 0 ? known : await GetAsync<T>(table, partitionKey, rowKey, cancellationToken).ConfigureAwait(false);
            if (entity is null || !change(entity))
            {
                if (attempt == 0)
                {
                    continue;
                }

                return (entity, false);
            }

            stamp(entity);
            try
            {
                Response response = await table.UpdateEntityAsync(entity, entity.ETag, TableUpdateMode.Replace, cancellationToken)
                    .ConfigureAwait(false);
                entity.ETag = response.Headers.ETag ?? default;
                return (entity, true);
            }
            catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.PreconditionFailed
                || (attempt == 0 && exception.Status == (int)HttpStatusCode.NotFound))   // the known entity was deleted since
            {
                if (attempt >= maxAttempts)
                {
                    throw new InvalidOperationException(
                        $"The {description} changed under every one of {maxAttempts} attempts to update it.", exception);
                }

                // Spread the writers out a little so that one of them wins the next round (after a stale known entity: just read).
                if (attempt > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, Math.Min(50, 2 * attempt) + 1)), cancellationToken)
                        .ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The entity with these keys, or null when there is none.</summary>
    public static async Task<T?> GetAsync<T>(TableClient table, string partitionKey, string rowKey, CancellationToken cancellationToken)
        where T : class, ITableEntity
    {
        NullableResponse<T> response = await table.GetEntityIfExistsAsync<T>(partitionKey, rowKey, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>Adds <paramref name="entity"/>; false when an entity with its keys exists already.</summary>
    public static async Task<bool> TryAddAsync<T>(TableClient table, T entity, CancellationToken cancellationToken)
        where T : class, ITableEntity
    {
        try
        {
            Response response = await table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
            entity.ETag = response.Headers.ETag ?? default;
            return true;
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.Conflict)
        {
            return false;
        }
    }
}

/// <summary>Lists kept as JSON text in a table property (the table service stores no lists).</summary>
internal static class TableJson
{
    /// <summary>The strings of a property written by <see cref="WriteStrings"/>; empty for null.</summary>
    public static IReadOnlyList<string> ReadStrings(string? json) => json is null ? [] : JsonSerializer.Deserialize<string[]>(json) ?? [];

    /// <summary>The property text of <paramref name="values"/>; null (no property) when there are none.</summary>
    public static string? WriteStrings(IReadOnlyList<string> values) => values.Count == 0 ? null : JsonSerializer.Serialize(values);
}

// Riding out storage outages: which failures may pass (StorageFailures) and how a loop waits them out (OutageBackoff).

/// <summary>
/// How a long-running loop rides out a storage outage of any length: after each failed round it waits, from an
/// initial delay doubling up to a longest one, and tries again, for as long as it takes. A failure that may pass
/// (<see cref="StorageFailures.MayPass"/>) is an outage: its first failure is logged once, as a warning with the error,
/// the ones after it only at debug level, and the first success after it as information, with how long it lasted.
/// Any other failure is logged as an error each time (with the same waits between them). Thread-safe: several tasks
/// of one stage may share one, and then an outage is logged once for all of them.
/// </summary>
public sealed class OutageBackoff
{
    /// <summary>The longest wait unless a caller chooses another (30 s).</summary>
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromSeconds(30);

    private readonly string loop;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly TimeSpan initialDelay;
    private readonly TimeSpan maxDelay;
    private readonly object gate = new();
    private TimeSpan nextDelay;
    private long outageStarted;
    private int failures;

    /// <summary>The backoff of the loop named <paramref name="loop"/> ("The intake loop", ...), logging to <paramref name="logger"/>.</summary>
    public OutageBackoff(string loop, ILogger logger, TimeProvider? time = null, TimeSpan? initialDelay = null, TimeSpan? maxDelay = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(loop);
        this.loop = loop;
        this.logger = logger ?? throw new ArgumentNullException(nameof(logger));
        this.time = time ?? TimeProvider.System;
        this.maxDelay = maxDelay ?? DefaultMaxDelay;
        this.initialDelay = TimeSpan.FromTicks(Math.Clamp((initialDelay ?? TimeSpan.FromSeconds(1)).Ticks, TimeSpan.FromMilliseconds(10).Ticks, this.maxDelay.Ticks));
        nextDelay = this.initialDelay;
    }

    /// <summary>True from the first failure of an outage until the next success.</summary>
    public bool InOutage { get; private set; }

    /// <summary>How many outages began so far.</summary>
    public int Outages { get; private set; }

    /// <summary>How many rounds failed in a row (0 after a success).</summary>
    public int Failures => Volatile.Read(ref failures);

    /// <summary>Logs <paramref name="error"/> as described above and waits before the next round.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled during the wait.</exception>
    public async Task WaitAfterFailureAsync(Exception error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(error);
        TimeSpan delay;
        bool mayPass = StorageFailures.MayPass(error), outageBegins = false;
        lock (gate)
        {
            failures++;
            delay = nextDelay;
            nextDelay = TimeSpan.FromTicks(Math.Min(nextDelay.Ticks * 2, maxDelay.Ticks));
            if (mayPass && !InOutage)
            {
                InOutage = outageBegins = true;
                Outages++;
                outageStarted = time.GetTimestamp();
            }
        }

        if (!mayPass)
        {
            logger.LogError(error, "{Loop}: a round failed; trying again in {Delay}.", loop, delay);
        }
        else if (outageBegins)
        {
            logger.LogWarning(error, "{Loop}: storage is unreachable ({Error}); trying again, waiting {Delay} and up to {MaxDelay} between tries, until it is back.",
                loop, StorageFailures.Describe(error), delay, maxDelay);
        }
        else
        {
            logger.LogDebug("{Loop}: storage is still unreachable ({Error}); trying again in {Delay}.", loop, StorageFailures.Describe(error), delay);
        }

        await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records a round that worked: ends an outage (logging it) and resets the waits.</summary>
    public void Succeeded()
    {
        bool outageEnds;
        int failed;
        TimeSpan lasted;
        lock (gate)
        {
            outageEnds = InOutage;
            failed = failures;
            lasted = outageEnds ? time.GetElapsedTime(outageStarted) : TimeSpan.Zero;
            InOutage = false;
            failures = 0;
            nextDelay = initialDelay;
        }

        if (outageEnds)
        {
            logger.LogInformation("{Loop}: storage is reachable again after {Duration} ({Failures} failed tries).", loop, lasted, failed);
        }
    }
}

/// <summary>Tells a storage failure that may pass (the account unreachable, busy or failing for a while) from one that will not.</summary>
public static class StorageFailures
{
    /// <summary>
    /// True for a failure that trying again later may cure: no answer at all (a refused or reset connection, a timeout,
    /// the SDK's retries given up on those), or an answer that says so (408, 429, 5xx).
    /// </summary>
    public static bool MayPass(Exception exception) => exception switch
    {
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(MayPass),
        RequestFailedException failed => failed.Status is 0 or 408 or 429 or >= 500,
        HttpRequestException or IOException or SocketException or TimeoutException or TaskCanceledException => true,
        _ => false,
    };

    /// <summary>The first message of <paramref name="exception"/> that says what went wrong (the first inner one of an aggregate).</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? Describe(aggregate.InnerExceptions[0]) : exception.Message;
    }
}
