using System.Net;
using System.Net.Sockets;

namespace ShortcutPipeline.Testing;

/// <summary>Ports for test servers (callback receivers, fake HTTP endpoints).</summary>
public static class LoopbackPorts
{
    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int Free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
