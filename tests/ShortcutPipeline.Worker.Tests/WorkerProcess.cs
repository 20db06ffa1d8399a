using System.Globalization;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// The worker host run as its own process, as the GPU image runs it (<see cref="AppProcess"/> over <c>shortcut.dll worker</c>
/// from the command line's build output), configured through environment variables as a container would be, so tests can
/// kill it (SIGKILL) or stop it (SIGTERM). Disposing it stops it as the container runtime does: SIGTERM, then a minute to exit.
/// </summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly AppProcess app;

    private WorkerProcess(AppProcess app, int healthPort)
    {
        this.app = app;
        HealthPort = healthPort;
    }

    /// <summary>The port of its health endpoints (each worker process gets a free one, so that tests can run side by side).</summary>
    public int HealthPort { get; }

    public string Output => app.Output;

    /// <summary>Starts a worker on <paramref name="storage"/> with the given <c>ShortcutPipeline:Worker</c> settings.</summary>
    public static WorkerProcess Start(string connectionString, PipelineStorageOptions storage, IReadOnlyDictionary<string, string> workerSettings)
    {
        int healthPort = LoopbackPorts.FreeForAnotherProcess();
        var settings = new Dictionary<string, string?>
        {
            [SettingNames.StorageConnection] = connectionString,
            [HealthOptions.PortSetting] = healthPort.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, value) in storage.ToSettings())
        {
            settings[name] = value;
        }

        foreach (var (name, value) in workerSettings)
        {
            settings[$"{WorkerOptions.SectionName}:{name}"] = value;
        }

        return new WorkerProcess(AppProcess.Start(RepositoryPaths.ShortcutAssembly, settings, "worker"), healthPort);
    }

    /// <inheritdoc cref="AppProcess.WaitForOutputAsync"/>
    public Task WaitForOutputAsync(string text, TimeSpan timeout) => app.WaitForOutputAsync(text, timeout);

    /// <inheritdoc cref="AppProcess.Kill"/>
    public void Kill() => app.Kill();

    /// <inheritdoc cref="AppProcess.TerminateAsync"/>
    public Task TerminateAsync() => app.TerminateAsync();

    /// <inheritdoc cref="AppProcess.WaitForExitAsync"/>
    public Task<int> WaitForExitAsync(TimeSpan timeout) => app.WaitForExitAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(TimeSpan.FromSeconds(60));
        app.Dispose();
    }
}
