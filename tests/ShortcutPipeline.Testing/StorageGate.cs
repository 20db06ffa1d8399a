using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace ShortcutPipeline.Testing;

/// <summary>
/// Azurite behind a gate: TCP forwarders in front of its blob, queue and table ports, and a connection string
/// (<see cref="ConnectionString"/>) through them. <see cref="Close"/> makes storage unreachable (connections are reset, new
/// ones refused with a reset) without touching Azurite; <see cref="Open"/> makes it reachable again.
/// </summary>
public sealed partial class StorageGate : IDisposable
{
    private readonly TcpForwarder[] forwarders;

    private StorageGate(string connectionString, TcpForwarder[] forwarders)
    {
        ConnectionString = connectionString;
        this.forwarders = forwarders;
    }

    /// <summary>The connection string through the gate.</summary>
    public string ConnectionString { get; }

    /// <summary>A gate in front of the endpoints of <paramref name="connectionString"/> (an Azurite one: http://127.0.0.1:port), open.</summary>
    public static StorageGate Start(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var forwarders = new List<TcpForwarder>();
        string gated = LoopbackEndpoint().Replace(connectionString, match =>
        {
            var forwarder = new TcpForwarder(int.Parse(match.Groups["port"].Value, CultureInfo.InvariantCulture));
            forwarders.Add(forwarder);
            return string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{forwarder.Port}/");
        });
        return forwarders.Count > 0
            ? new StorageGate(gated, [.. forwarders])
            : throw new ArgumentException("The connection string names no http://127.0.0.1:port/ endpoint.", nameof(connectionString));
    }

    /// <summary>Storage becomes unreachable: open connections are reset, new ones are reset as they come.</summary>
    public void Close()
    {
        foreach (TcpForwarder forwarder in forwarders)
        {
            forwarder.Close();
        }
    }

    /// <summary>Storage becomes reachable again.</summary>
    public void Open()
    {
        foreach (TcpForwarder forwarder in forwarders)
        {
            forwarder.Open();
        }
    }

    /// <summary>Stops forwarding.</summary>
    public void Dispose()
    {
        foreach (TcpForwarder forwarder in forwarders)
        {
            forwarder.Dispose();
        }
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:(?<port>\d+)/")]
    private static partial Regex LoopbackEndpoint();

    /// <summary>Forwards connections on a loopback port of its own to a target loopback port, while open.</summary>
    private sealed class TcpForwarder : IDisposable
    {
        private readonly int target;
        private readonly TcpListener listener = new(IPAddress.Loopback, 0);
        private readonly ConcurrentDictionary<Socket, byte> connections = new();
        private readonly CancellationTokenSource disposed = new();
        private volatile bool open = true;

        public TcpForwarder(int target)
        {
            this.target = target;
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            _ = AcceptAsync();
        }

        public int Port { get; }

        public void Open() => open = true;

        public void Close()
        {
            open = false;
            foreach (Socket socket in connections.Keys)
            {
                Reset(socket);
            }
        }

        public void Dispose()
        {
            disposed.Cancel();
            listener.Stop();
            Close();
            disposed.Dispose();
        }

        private static void Reset(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            catch (ObjectDisposedException)
            {
                // Closed already.
            }
        }

        private async Task AcceptAsync()
        {
            while (!disposed.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptSocketAsync(disposed.Token);
                }
                catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                if (!open)
                {
                    Reset(client);
                    continue;
                }

                _ = ForwardAsync(client);
            }
        }

        private async Task ForwardAsync(Socket client)
        {
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            connections[client] = 0;
            connections[server] = 0;
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, target, disposed.Token);
                await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The gate closed, or a side went away.
            }
            finally
            {
                connections.TryRemove(client, out _);
                connections.TryRemove(server, out _);
                client.Dispose();   // a graceful close (what was sent still arrives); Close() resets instead
                server.Dispose();
            }
        }

        private async Task PumpAsync(Socket from, Socket to)
        {
            byte[] buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, disposed.Token)) > 0)
                {
                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, disposed.Token);
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Ends the connection.
            }
        }
    }
}
