using System.Globalization;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Health;

namespace ShortcutPipeline.Testing;

/// <summary>
/// A host of the command line (<c>shortcut worker</c>, <c>shortcut trainer</c>) run as its own process, as the GPU image runs
/// it (an <see cref="AppProcess"/> over the command line's build output), configured the way the container is, through
/// environment variables: the storage connection and names, a free port of its own for its health endpoints (so that hosts can
/// run side by side), and the host's own settings. Disposing it stops it as the container runtime does: SIGTERM, then a
/// minute to exit, then SIGKILL.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly AppProcess app;

    private HostProcess(AppProcess app, int healthPort)
    {
        this.app = app;
        HealthPort = healthPort;
    }

    /// <summary>The port of its health endpoints.</summary>
    public int HealthPort { get; }

    /// <inheritdoc cref="AppProcess.Output"/>
    public string Output => app.Output;

    /// <inheritdoc cref="AppProcess.HasExited"/>
    public bool HasExited => app.HasExited;

    /// <inheritdoc cref="AppProcess.ExitCode"/>
    public int ExitCode => app.ExitCode;

    /// <summary>
    /// Starts <c>dotnet shortcut.dll {command} {arguments}</c> on <paramref name="storage"/> (through
    /// <paramref name="connectionString"/>), with <paramref name="settings"/> (configuration keys) on top.
    /// </summary>
    public static HostProcess Start(
        string command, string connectionString, PipelineStorageOptions storage, IEnumerable<KeyValuePair<string, string?>> settings,
        params IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(settings);
        int healthPort = LoopbackPorts.FreeForAnotherProcess();
        Dictionary<string, string?> environment = storage.ToSettings(connectionString);
        environment[HealthOptions.PortSetting] = healthPort.ToString(CultureInfo.InvariantCulture);
        foreach ((string name, string? value) in settings)
        {
            environment[name] = value;
        }

        return new HostProcess(AppProcess.Start(RepositoryPaths.ShortcutAssembly, environment, [command, .. arguments]), healthPort);
    }

    /// <inheritdoc cref="AppProcess.WaitForOutputAsync"/>
    public Task WaitForOutputAsync(string text, TimeSpan timeout) => app.WaitForOutputAsync(text, timeout);

    /// <inheritdoc cref="AppProcess.Kill"/>
    public void Kill() => app.Kill();

    /// <inheritdoc cref="AppProcess.TerminateAsync"/>
    public Task TerminateAsync() => app.TerminateAsync();

    /// <inheritdoc cref="AppProcess.WaitForExitAsync"/>
    public Task<int> WaitForExitAsync(TimeSpan timeout) => app.WaitForExitAsync(timeout);

    /// <summary>SIGTERM, then a minute to exit, then SIGKILL (nothing when it has exited already).</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        app.Dispose();
    }
}
