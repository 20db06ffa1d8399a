using ShortcutPipeline.Cli.LocalRun;

namespace ShortcutPipeline.Testing;

/// <summary>
/// The Azurite process of a test run (the command line's <see cref="AzuriteEmulator"/>, in memory): <see cref="Shared"/> starts it on
/// first use and it lives until the test process ends; it is killed at process exit, and, should the test process
/// die without running its exit handlers, the emulator's watchdog kills it within a second.
/// </summary>
public sealed class AzuriteServer : IDisposable
{
    /// <summary>The environment variable that overrides where the azurite executable is.</summary>
    public const string PathVariable = "AZURITE_PATH";

    private static readonly Lazy<AzuriteServer> SharedServer = new(() => Start(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly AzuriteEmulator emulator;

    private AzuriteServer(AzuriteEmulator emulator) => this.emulator = emulator;

    /// <summary>The process-wide server, started on first use.</summary>
    public static AzuriteServer Shared => SharedServer.Value;

    /// <summary>A connection string for all three services.</summary>
    public string ConnectionString => emulator.ConnectionString;

    /// <summary>The blob, queue and table ports (a <see cref="StorageOutage"/> goes in front of them).</summary>
    public (int Blob, int Queue, int Table) Ports => (emulator.BlobPort, emulator.QueuePort, emulator.TablePort);

    /// <summary>
    /// The azurite executable: <see cref="PathVariable"/> when set, else
    /// <c>{repository}/.tools/node_modules/.bin/azurite</c> (what tests/install-prerequisites.sh installs).
    /// </summary>
    /// <exception cref="FileNotFoundException">It is not there.</exception>
    public static string FindExecutable()
    {
        string? configured = Environment.GetEnvironmentVariable(PathVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured)
                ? configured
                : throw new FileNotFoundException($"{PathVariable} is set to {configured}, which does not exist.", configured);
        }

        string path = AzuriteEmulator.ExecutableIn(Path.Combine(RepositoryPaths.Root, ".tools"));
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException(
                $"Azurite is not installed at {path}: run tests/install-prerequisites.sh (or set {PathVariable}).", path);
    }

    /// <summary>Starts a new server (tests normally use <see cref="Shared"/>).</summary>
    public static AzuriteServer Start()
    {
        var server = new AzuriteServer(AzuriteEmulator.Start(FindExecutable()));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();
        return server;
    }

    /// <summary>Kills the process (and the watchdog) and removes its workspace folder.</summary>
    public void Dispose() => emulator.Dispose();
}
