using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;

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
