using System.Globalization;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>
/// The trainer as its own process, as the GPU image runs it (<see cref="AppProcess"/> over <c>shortcut.dll trainer</c> from
/// the command line's build output), configured the way the container is, through environment variables: the Azurite connection, the isolated
/// storage names, short timeouts. Disposing it kills it if it still runs.
/// </summary>
internal sealed class TrainerProcess : IDisposable
{
    private readonly AppProcess app;

    private TrainerProcess(AppProcess app, int healthPort)
    {
        this.app = app;
        HealthPort = healthPort;
    }

    /// <summary>The port of its health endpoints (each trainer process gets a free one).</summary>
    public int HealthPort { get; }

    /// <summary>Everything the process wrote so far.</summary>
    public string Output => app.Output;

    public bool HasExited => app.HasExited;

    public int ExitCode => app.ExitCode;

    /// <summary>Starts <c>dotnet shortcut.dll trainer {arguments}</c> over <paramref name="storage"/>.</summary>
    public static TrainerProcess Start(string connectionString, PipelineStorageOptions storage, TrainerHostOptions trainer, params string[] arguments)
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

        foreach (var property in typeof(TrainerHostOptions).GetProperties().Where(p => p.CanWrite))
        {
            settings[$"{TrainerHostOptions.SectionName}:{property.Name}"] =
                Convert.ToString(property.GetValue(trainer), CultureInfo.InvariantCulture);
        }

        settings["Logging:Console:FormatterName"] = "simple";
        settings["Logging:Console:FormatterOptions:SingleLine"] = "true";
        return new TrainerProcess(AppProcess.Start(RepositoryPaths.ShortcutAssembly, settings, ["trainer", .. arguments]), healthPort);
    }

    /// <inheritdoc cref="AppProcess.TerminateAsync"/>
    public Task TerminateAsync() => app.TerminateAsync();

    /// <inheritdoc cref="AppProcess.Kill"/>
    public void Kill() => app.Kill();

    /// <inheritdoc cref="AppProcess.WaitForExitAsync"/>
    public Task<int> WaitForExitAsync(TimeSpan timeout) => app.WaitForExitAsync(timeout);

    public void Dispose() => app.Dispose();
}
