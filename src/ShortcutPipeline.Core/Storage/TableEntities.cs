using System.Net;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;

namespace ShortcutPipeline.Core.Storage;

// How the stores of the jobs and runs tables (Jobs/JobStatus.cs, Training/TrainingRunStore.cs) keep their entities: read,
// add, and read-modify-write with the ETag, and lists kept as JSON text.

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
    /// entity (null: there is none) and whether this call changed it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The entity changed under every one of <paramref name="maxAttempts"/> attempts.</exception>
    public static async Task<(T? Entity, bool Changed)> UpdateAsync<T>(
        TableClient table, string partitionKey, string rowKey, Func<T, bool> change, Action<T> stamp, int maxAttempts,
        string description, CancellationToken cancellationToken)
        where T : class, ITableEntity
    {
        for (int attempt = 1; ; attempt++)
        {
            T? entity = await GetAsync<T>(table, partitionKey, rowKey, cancellationToken).ConfigureAwait(false);
            if (entity is null || !change(entity))
            {
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
            catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.PreconditionFailed)
            {
                if (attempt >= maxAttempts)
                {
                    throw new InvalidOperationException(
                        $"The {description} changed under every one of {maxAttempts} attempts to update it.", exception);
                }

                // Spread the writers out a little so that one of them wins the next round.
                await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(0, Math.Min(50, 2 * attempt) + 1)), cancellationToken)
                    .ConfigureAwait(false);
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
