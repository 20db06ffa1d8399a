using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Testing;

/// <summary>
/// Storage that a test can take away and give back: a TCP forwarder on fixed loopback ports in front of each of
/// Azurite's three services. Clients made by <see cref="Reach"/> go through it. Between <see cref="Begin"/> and
/// <see cref="End"/> the storage is unreachable for them, as if the emulator had stopped: every open connection is
/// reset at once, and every new one as soon as it arrives. <see cref="End"/> brings it back on the same ports with
/// every byte it held (Azurite itself keeps running, so other tests sharing it are not disturbed, and a request that
/// reached it just before the cut may have been carried out although its client saw the connection reset).
/// </summary>
public sealed class StorageOutage : IDisposable
{
    private readonly Forwarder[] forwarders;

    internal StorageOutage(string connectionString, (int Blob, int Queue, int Table) ports)
    {
        forwarders = [new Forwarder(ports.Blob), new Forwarder(ports.Queue), new Forwarder(ports.Table)];
        string through = connectionString;
        foreach (Forwarder forwarder in forwarders)
        {
            through = through.Replace(
                string.Create(CultureInfo.InvariantCulture, $":{forwarder.BackendPort}/"),
                string.Create(CultureInfo.InvariantCulture, $":{forwarder.Port}/"), StringComparison.Ordinal);
        }

        ConnectionString = through;
    }

    /// <summary>A connection string whose three endpoints go through the forwarders.</summary>
    public string ConnectionString { get; }

    /// <summary>True between <see cref="Begin"/> and <see cref="End"/>.</summary>
    public bool IsDown { get; private set; }

    /// <summary>How many connections were reset because the storage was down.</summary>
    public int ResetConnections => forwarders.Sum(forwarder => forwarder.ResetConnections);

    /// <summary>The same storage names as <paramref name="storage"/>, through the forwarders.</summary>
    public PipelineStorage Reach(PipelineStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        return PipelineStorage.FromConnectionString(ConnectionString, storage.Options);
    }

    /// <summary>Makes the storage unreachable: resets every open connection, and every new one from now on.</summary>
    public void Begin()
    {
        IsDown = true;
        foreach (Forwarder forwarder in forwarders)
        {
            forwarder.GoDown();
        }
    }

    /// <summary>Makes the storage reachable again.</summary>
    public void End()
    {
        foreach (Forwarder forwarder in forwarders)
        {
            forwarder.ComeBack();
        }

        IsDown = false;
    }

    /// <summary>Stops the forwarders (their connections are reset).</summary>
    public void Dispose()
    {
        foreach (Forwarder forwarder in forwarders)
        {
            forwarder.Dispose();
        }
    }

    // Reset (RST, what a stopped server's host answers) or, when the forwarding just ended, closed in order, so
    // that what was written still arrives.
    private static void Close(Socket socket, bool reset)
    {
        try
        {
            if (reset)
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            else
            {
                socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            // Closed already.
        }
        finally
        {
            socket.Close();
        }
    }

    // One port: accepts, connects to the backend, copies both ways; while down, resets instead.
    private sealed class Forwarder : IDisposable
    {
        private readonly ConcurrentDictionary<Socket, Socket> open = new();
        private readonly AcceptLoop loop;
        private volatile bool down;
        private int resetConnections;

        public Forwarder(int backendPort)
        {
            BackendPort = backendPort;
            loop = new AcceptLoop(new TcpListener(IPAddress.Loopback, 0), Accepted);
        }

        public int BackendPort { get; }

        public int Port => loop.Port;

        public int ResetConnections => Volatile.Read(ref resetConnections);

        public void GoDown()
        {
            down = true;
            foreach ((Socket client, Socket backend) in open)
            {
                Interlocked.Increment(ref resetConnections);
                Close(client, reset: true);
                Close(backend, reset: true);
            }
        }

        public void ComeBack() => down = false;

        public void Dispose()
        {
            loop.Dispose();
            GoDown();
        }

        private void Accepted(Socket client)
        {
            if (down)
            {
                Interlocked.Increment(ref resetConnections);
                Close(client, reset: true);
                return;
            }

            _ = ForwardAsync(client);
        }

        private async Task ForwardAsync(Socket client)
        {
            var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.NoDelay = true;
            try
            {
                await backend.ConnectAsync(new IPEndPoint(IPAddress.Loopback, BackendPort), loop.Stopping).ConfigureAwait(false);
                open[client] = backend;
                if (down)
                {
                    // The outage began while this one was connecting.
                    Interlocked.Increment(ref resetConnections);
                    return;
                }

                using var toBackend = new NetworkStream(client, ownsSocket: false);
                using var toClient = new NetworkStream(backend, ownsSocket: false);
                await Task.WhenAny(toBackend.CopyToAsync(toClient), toClient.CopyToAsync(toBackend)).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // One side went away, or the outage cut it.
            }
            finally
            {
                open.TryRemove(client, out _);
                Close(client, reset: down);
                Close(backend, reset: down);
            }
        }
    }
}
