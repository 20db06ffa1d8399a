using ShortcutPipeline.Core;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// The worker host run as its own process (<see cref="HostProcess"/> over <c>shortcut worker</c>), so tests can kill it
/// (SIGKILL) or stop it (SIGTERM).
/// </summary>
internal static class WorkerProcess
{
    /// <summary>Starts a worker on <paramref name="storage"/> with the given <c>ShortcutPipeline:Worker</c> settings.</summary>
    public static HostProcess Start(string connectionString, PipelineStorageOptions storage, IReadOnlyDictionary<string, string> workerSettings) =>
        HostProcess.Start("worker", connectionString, storage,
            workerSettings.Select(setting => KeyValuePair.Create($"{WorkerOptions.SectionName}:{setting.Key}", (string?)setting.Value)));
}
