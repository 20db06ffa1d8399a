using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Testing;

/// <summary>
/// The xunit fixture over the one Azurite process of the test assembly (<see cref="AzuriteServer.Shared"/>):
/// use it as an <c>ICollectionFixture&lt;AzuriteFixture&gt;</c> or <c>IClassFixture&lt;AzuriteFixture&gt;</c>;
/// every instance shares the process. Each test takes its own storage names from
/// <see cref="CreateStorageAsync"/>, so tests running in parallel never see each other's data.
/// </summary>
public sealed class AzuriteFixture
{
    private readonly AzuriteServer server;

    /// <summary>Starts the shared Azurite process if it is not running yet.</summary>
    public AzuriteFixture() => server = AzuriteServer.Shared;

    /// <summary>The connection string of the emulator.</summary>
    public string ConnectionString => server.ConnectionString;

    /// <summary>
    /// A way to make the emulator unreachable (and reachable again, with its data) for the clients that
    /// <see cref="StorageOutage.Reach"/> makes, and only for them: other tests go on using it.
    /// </summary>
    public StorageOutage CreateOutage() => new(server.ConnectionString, server.Ports);

    /// <summary>A fresh unique storage name prefix (see <see cref="PipelineStorageOptions.WithPrefix"/>).</summary>
    public static string CreateIsolatedPrefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Storage names under a fresh unique prefix (nothing is created).</summary>
    public static PipelineStorageOptions CreateIsolatedNames() => PipelineStorageOptions.WithPrefix(CreateIsolatedPrefix());

    /// <summary>
    /// Storage with fresh unique names (under <paramref name="prefix"/>, from <see cref="CreateIsolatedPrefix"/>, when
    /// the test needs to know it), every queue, container and table created.
    /// </summary>
    public async Task<PipelineStorage> CreateStorageAsync(string? prefix = null, CancellationToken cancellationToken = default)
    {
        PipelineStorageOptions names = prefix is null ? CreateIsolatedNames() : PipelineStorageOptions.WithPrefix(prefix);
        PipelineStorage storage = PipelineStorage.FromConnectionString(ConnectionString, names);
        await storage.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        return storage;
    }
}
