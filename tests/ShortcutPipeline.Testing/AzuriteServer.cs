using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ShortcutPipeline.Testing;

/// <summary>
/// One Azurite process (blob, queue and table) on free loopback ports, in-memory. <see cref="Shared"/> starts
/// it on first use and it lives until the test process ends: it is killed at process exit, and, should the
/// test process die without running its exit handlers, a small shell watchdog around it kills it within a second.
/// </summary>
public sealed class AzuriteServer : IDisposable
{
    /// <summary>The environment variable that overrides where the azurite executable is.</summary>
    public const string PathVariable = "AZURITE_PATH";

    private const string AccountName = "devstoreaccount1";

    // Azurite's well-known development account key (public, documented; not a secret).
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly Lazy<AzuriteServer> SharedServer = new(() => Start(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Process process;
    private readonly string workspace;
    private int disposed;

    private AzuriteServer(Process process, string workspace, int blobPort, int queuePort, int tablePort)
    {
        this.process = process;
        this.workspace = workspace;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
        ConnectionString = string.Create(CultureInfo.InvariantCulture,
            $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blobPort}/{AccountName};" +
            $"QueueEndpoint=http://127.0.0.1:{queuePort}/{AccountName};" +
            $"TableEndpoint=http://127.0.0.1:{tablePort}/{AccountName};");
    }

    /// <summary>The process-wide server, started on first use.</summary>
    public static AzuriteServer Shared => SharedServer.Value;

    /// <summary>A connection string for all three services.</summary>
    public string ConnectionString { get; }

    /// <summary>The blob service port.</summary>
    public int BlobPort { get; }

    /// <summary>The queue service port.</summary>
    public int QueuePort { get; }

    /// <summary>The table service port.</summary>
    public int TablePort { get; }

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

        string name = OperatingSystem.IsWindows() ? "azurite.cmd" : "azurite";
        string path = Path.Combine(RepositoryPaths.Root, ".tools", "node_modules", ".bin", name);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException(
                $"Azurite is not installed at {path}: run tests/install-prerequisites.sh (or set {PathVariable}).", path);
    }

    /// <summary>Starts a new server (tests normally use <see cref="Shared"/>).</summary>
    public static AzuriteServer Start()
    {
        string executable = FindExecutable();
        Exception? lastFailure = null;
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                return StartOnce(executable);
            }
            catch (AzuriteStartException exception)
            {
                // Most likely a port was taken between choosing it and Azurite binding it: choose again.
                lastFailure = exception;
            }
        }

        throw new InvalidOperationException($"Azurite did not start after 3 attempts: {lastFailure?.Message}", lastFailure);
    }

    /// <summary>Kills the process (and the watchdog) and removes its workspace folder.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited in between.
        }

        process.Dispose();
        try
        {
            Directory.Delete(workspace, recursive: true);
        }
        catch (IOException)
        {
            // A leftover empty temp folder is harmless.
        }
    }

    private static AzuriteServer StartOnce(string executable)
    {
        int[] ports = FreePorts(3);
        // In memory, Azurite keeps nothing on disk; its working folder is a fresh temporary one all the same.
        string workspace = Directory.CreateTempSubdirectory("azurite-").FullName;
        string[] arguments =
        [
            "--blobHost", "127.0.0.1", "--blobPort", Text(ports[0]),
            "--queueHost", "127.0.0.1", "--queuePort", Text(ports[1]),
            "--tableHost", "127.0.0.1", "--tablePort", Text(ports[2]),
            "--inMemoryPersistence", "--skipApiVersionCheck", "--silent", "--loose", "--disableTelemetry",
        ];

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
            // sh runs Azurite as its child and kills it once the test process is gone (even after a hard kill).
            startInfo.FileName = "/bin/sh";
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add(
                "\"$0\" \"$@\" & child=$!; " +
                "trap 'kill $child 2>/dev/null; exit 0' TERM INT HUP; " +
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

        var server = new AzuriteServer(process, workspace, ports[0], ports[1], ports[2]);
        try
        {
            WaitUntilListening(process, ports, output);
        }
        catch
        {
            server.Dispose();
            throw;
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();
        return server;
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
