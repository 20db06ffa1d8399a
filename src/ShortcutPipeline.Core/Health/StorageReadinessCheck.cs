using Azure.Storage.Queues;

namespace ShortcutPipeline.Core.Health;

/// <summary>
/// Readiness "storage": the app reaches each storage service it uses, with its own identity: the checkpoints container
/// (models), the queue it takes messages from and the table it records progress in must answer (exist and be readable).
/// </summary>
public sealed class StorageReadinessCheck : IReadinessCheck
{
    private readonly PipelineStorage storage;
    private readonly QueueClient queue;
    private readonly TableClient table;

    /// <summary>A check of <paramref name="storage"/>'s checkpoints container, <paramref name="queue"/> and <paramref name="table"/>.</summary>
    public StorageReadinessCheck(PipelineStorage storage, QueueClient queue, TableClient table)
    {
        this.storage = storage ?? throw new ArgumentNullException(nameof(storage));
        this.queue = queue ?? throw new ArgumentNullException(nameof(queue));
        this.table = table ?? throw new ArgumentNullException(nameof(table));
    }

    /// <inheritdoc/>
    public string Name => "storage";

    /// <inheritdoc/>
    public async Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken)
    {
        var container = storage.CheckpointsContainer;
        (string What, Task Probe)[] probes =
        [
            ($"blob container {container.Name}", container.GetPropertiesAsync(cancellationToken: cancellationToken)),
            ($"queue {queue.Name}", queue.GetPropertiesAsync(cancellationToken)),
            ($"table {table.Name}", ReadFirstPageAsync(cancellationToken)),
        ];
        try
        {
            await Task.WhenAll(probes.Select(p => p.Probe)).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Reported below, probe by probe.
        }

        string[] failures = probes.Where(p => !p.Probe.IsCompletedSuccessfully)
            .Select(p => $"{p.What}: {(p.Probe.IsCanceled ? "no answer" : FirstLine(p.Probe.Exception!.InnerException!.Message))}").ToArray();
        return failures.Length == 0
            ? new ReadinessResult(true, string.Join(", ", probes.Select(p => p.What)) + " answer.")
            : new ReadinessResult(false, string.Join(" | ", failures));
    }

    private async Task ReadFirstPageAsync(CancellationToken cancellationToken)
    {
        await foreach (Azure.Page<TableEntity> _ in table.QueryAsync<TableEntity>(maxPerPage: 1, select: ["PartitionKey"], cancellationToken: cancellationToken)
            .AsPages().ConfigureAwait(false))
        {
            return;
        }
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
