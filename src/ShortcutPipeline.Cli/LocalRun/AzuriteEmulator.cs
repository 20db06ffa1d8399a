using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ShortcutPipeline.Cli.LocalRun;

/// <summary>
/// One Azurite process (the Azure Storage emulator: blob, queue and table) on free loopback ports, in memory or
/// with its data in a folder: what the tests and the local run (<c>shortcut local</c>) start. On Linux and macOS a
/// small shell watchdog around it kills it within a second once the process that started it is gone, even after a
/// hard kill. <see cref="InstallAsync"/> puts Azurite <see cref="Version"/> into a tools folder with npm. Only the
/// command line uses it (the local run, serve, the pipeline benchmarks), and the tests' shared Azurite
/// (tests/ShortcutPipeline.Testing compiles this same file), so it is internal to each.
/// </summary>
internal sealed class AzuriteEmulator : IDisposable
{
    /// <summary>The Azurite version the project uses (with <c>--skipApiVersionCheck</c>, it accepts these SDKs).</summary>
    public const string Version = "3.37.0";

    /// <summary>Azurite's standard blob port; the queue and table services follow on the next two (10001, 10002).</summary>
    public const int StandardBlobPort = 10000;

    /// <summary>The emulator's account name.</summary>
    public const string AccountName = "devstoreaccount1";

    // On Linux and macOS the emulator runs below normal CPU priority (nice 10). It stands in for a storage service that
    // would not share the worker's cores: on a machine whose cores the sampler keeps busy, the sampler comes first and
    // Azurite answers in the gaps between its kernels (README, "End to end through Azurite"); with spare cores nothing
    // changes. (On Windows it runs at normal priority.)
    private const int NiceIncrement = 10;

    // Azurite's well-known development account key (public, documented; not a secret).
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private readonly Process process;
    private readonly string workspace;
    private readonly bool ownsWorkspace;
    private int disposed;

    private AzuriteEmulator(Process process, string workspace, bool ownsWorkspace, int blobPort, int queuePort, int tablePort)
    {
        this.process = process;
        this.workspace = workspace;
        this.ownsWorkspace = ownsWorkspace;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
        ConnectionString = string.Create(CultureInfo.InvariantCulture,
            $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blobPort}/{AccountName};" +
            $"QueueEndpoint=http://127.0.0.1:{queuePort}/{AccountName};" +
            $"TableEndpoint=http://127.0.0.1:{tablePort}/{AccountName};");
    }

    /// <summary>A connection string for all three services.</summary>
    public string ConnectionString { get; }

    /// <summary>The blob service port.</summary>
    public int BlobPort { get; }

    /// <summary>The queue service port.</summary>
    public int QueuePort { get; }

    /// <summary>The table service port.</summary>
    public int TablePort { get; }

    /// <summary>The azurite executable npm installs under <paramref name="toolsDirectory"/> (it may not exist).</summary>
    public static string ExecutableIn(string toolsDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(toolsDirectory);
        return Path.Combine(toolsDirectory, "node_modules", ".bin", OperatingSystem.IsWindows() ? "azurite.cmd" : "azurite");
    }

    /// <summary>
    /// Installs Azurite <see cref="Version"/> into <paramref name="toolsDirectory"/> with <c>npm install --prefix</c>
    /// unless it is there already, and returns its executable.
    /// </summary>
    /// <exception cref="InvalidOperationException">npm is missing or the installation failed (the message says what to do).</exception>
    public static async Task<string> InstallAsync(string toolsDirectory, TextWriter? log = null, CancellationToken cancellationToken = default)
    {
        string executable = ExecutableIn(toolsDirectory);
        if (File.Exists(executable))
        {
            return executable;
        }

        Directory.CreateDirectory(toolsDirectory);
        log?.WriteLine($"Installing Azurite {Version} into {toolsDirectory} (npm)...");
        var start = new ProcessStartInfo(OperatingSystem.IsWindows() ? "npm.cmd" : "npm")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in new[] { "install", "--prefix", toolsDirectory, "--no-audit", "--no-fund", "--loglevel=error", "azurite@" + Version })
        {
            start.ArgumentList.Add(argument);
        }

        Process npm;
        try
        {
            npm = Process.Start(start) ?? throw new InvalidOperationException("npm did not start.");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException(
                $"Azurite is not installed and npm, which installs it, is not on the PATH: install Node.js 18 or later (it brings npm), or Azurite yourself (npm install -g azurite@{Version}). ({exception.Message})",
                exception);
        }

        using (npm)
        {
            Task<string> output = npm.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> errors = npm.StandardError.ReadToEndAsync(cancellationToken);
            await npm.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (npm.ExitCode != 0 || !File.Exists(executable))
            {
                throw new InvalidOperationException(
                    $"npm install azurite@{Version} failed (exit code {npm.ExitCode}): {(await errors.ConfigureAwait(false)).Trim()} {(await output.ConfigureAwait(false)).Trim()}");
            }
        }

        return executable;
    }

    /// <summary>
    /// Starts Azurite from <paramref name="executable"/> on free loopback ports: in memory, or keeping its data in
    /// <paramref name="dataDirectory"/>. Retries with other ports when one is taken in between.
    /// </summary>
    /// <exception cref="InvalidOperationException">It did not start (the message holds its output).</exception>
    public static AzuriteEmulator Start(string executable, string? dataDirectory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(executable);
        if (!File.Exists(executable))
        {
            throw new FileNotFoundException($"There is no azurite executable at {executable}.", executable);
        }

        Exception? lastFailure = null;
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                return StartOnce(executable, dataDirectory, FreePorts(3));
            }
            catch (AzuriteStartException exception)
            {
                // Most likely a port was taken between choosing it and Azurite binding it: choose again.
                lastFailure = exception;
            }
        }

        throw new InvalidOperationException($"Azurite did not start after 3 attempts: {lastFailure?.Message}", lastFailure);
    }

    /// <summary>
    /// Starts Azurite from <paramref name="executable"/> on <paramref name="blobPort"/> and the two ports after it (queue,
    /// table; by default Azurite's standard ports 10000 to 10002, which storage tools and SDK samples assume), keeping its
    /// data in <paramref name="dataDirectory"/> across restarts (in memory when null).
    /// </summary>
    /// <exception cref="InvalidOperationException">A port is taken (another Azurite, say), or it did not start.</exception>
    public static AzuriteEmulator StartOnPorts(string executable, string? dataDirectory, int blobPort = StandardBlobPort)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(executable);
        ArgumentOutOfRangeException.ThrowIfLessThan(blobPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blobPort, IPEndPoint.MaxPort - 2);
        if (!File.Exists(executable))
        {
            throw new FileNotFoundException($"There is no azurite executable at {executable}.", executable);
        }

        int[] ports = [blobPort, blobPort + 1, blobPort + 2];
        if (ports.FirstOrDefault(IsListening) is int taken and > 0)
        {
            throw new InvalidOperationException(
                $"Port {taken} is in use on 127.0.0.1 (is an Azurite or another server running already?): stop it, choose other ports, or use the storage that is running there.");
        }

        try
        {
            return StartOnce(executable, dataDirectory, ports);
        }
        catch (AzuriteStartException exception)
        {
            throw new InvalidOperationException($"Azurite did not start: {exception.Message}", exception);
        }
    }

    /// <summary>
    /// Stops Azurite (with a kept data folder: SIGTERM first, so that it saves its data, then a kill after 15 s) and
    /// removes its temporary working folder.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        try
        {
            // With its data in a folder, Azurite saves its metadata on SIGTERM; a kill could lose the latest changes.
            if (!ownsWorkspace && !OperatingSystem.IsWindows() && !process.HasExited)
            {
                using (Process terminate = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
                {
                    terminate.WaitForExit();
                }

                process.WaitForExit(15_000);
            }

            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (Exception exception) when (exception is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // It exited in between, or there is no kill command: the watchdog ends Azurite once this process is gone.
        }

        process.Dispose();
        if (ownsWorkspace)
        {
            try
            {
                Directory.Delete(workspace, recursive: true);
            }
            catch (IOException)
            {
                // A leftover empty temp folder is harmless.
            }
        }
    }

    private static AzuriteEmulator StartOnce(string executable, string? dataDirectory, int[] ports)
    {
        bool inMemory = dataDirectory is null;
        string workspace = inMemory ? Directory.CreateTempSubdirectory("azurite-").FullName : Directory.CreateDirectory(dataDirectory!).FullName;
        var arguments = new List<string>
        {
            "--blobHost", "127.0.0.1", "--blobPort", Text(ports[0]),
            "--queueHost", "127.0.0.1", "--queuePort", Text(ports[1]),
            "--tableHost", "127.0.0.1", "--tablePort", Text(ports[2]),
            "--skipApiVersionCheck", "--silent", "--loose", "--disableTelemetry",
        };
        arguments.AddRange(inMemory ? ["--inMemoryPersistence"] : ["--location", workspace]);

        var startInfo = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workspace,
        };
        if (OperatingSystem.IsWindows())
        {
            startInfo.FileName = executable;
        }
        else
        {
            // sh runs Azurite as its child (niced, see NiceIncrement) and kills it once the starting process is gone
            // (even after a hard kill).
            startInfo.FileName = "/bin/sh";
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add(
                $"nice -n {NiceIncrement} \"$0\" \"$@\" & child=$!; " +
                "trap 'kill $child 2>/dev/null; wait $child; exit 0' TERM INT HUP; " +
                $"while kill -0 {Environment.ProcessId} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; " +
                "kill $child 2>/dev/null; wait $child");
            startInfo.ArgumentList.Add(executable);
        }

        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var emulator = new AzuriteEmulator(process, workspace, inMemory, ports[0], ports[1], ports[2]);
        try
        {
            WaitUntilListening(process, ports, output);
        }
        catch
        {
            emulator.Dispose();
            throw;
        }

        return emulator;
    }

    private static void WaitUntilListening(Process process, int[] ports, StringBuilder output)
    {
        var clock = Stopwatch.StartNew();
        var pending = new List<int>(ports);
        while (pending.Count > 0)
        {
            if (process.HasExited)
            {
                throw new AzuriteStartException($"Azurite exited with code {process.ExitCode} before listening: {Snapshot(output)}");
            }

            if (clock.Elapsed > StartTimeout)
            {
                throw new AzuriteStartException($"Azurite did not listen on ports {string.Join(", ", pending)} within {StartTimeout.TotalSeconds} s: {Snapshot(output)}");
            }

            pending.RemoveAll(IsListening);
            if (pending.Count > 0)
            {
                Thread.Sleep(100);
            }
        }
    }

    private static bool IsListening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(listener => listener.Start());
            return listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            listeners.ForEach(listener => listener.Stop());
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            if (output.Length < 16_000)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.Length == 0 ? "(no output)" : output.ToString().Trim();
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed class AzuriteStartException(string message) : Exception(message);
}
