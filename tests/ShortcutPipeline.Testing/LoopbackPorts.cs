using System.Globalization;
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

    /// <summary>
    /// A port, free on every interface a moment ago, below the range the system draws the local ports of outgoing
    /// connections from, for a server that another process starts later: a port from <see cref="Free"/> may in between
    /// become the local port of one of the many connections tests make, and the server could not bind it.
    /// </summary>
    public static int FreeForAnotherProcess() => FreeBlockForAnotherProcess(1);

    /// <summary>
    /// The first of <paramref name="count"/> consecutive ports, each as <see cref="FreeForAnotherProcess"/> (for a server
    /// on a port and the ones after it, as Azurite's blob, queue and table services).
    /// </summary>
    public static int FreeBlockForAnotherProcess(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        int ephemeralStart = EphemeralRangeStart();
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            int start = Random.Shared.Next(10000, ephemeralStart - count + 1);
            var listeners = new List<TcpListener>();
            try
            {
                for (int port = start; port < start + count; port++)
                {
                    var listener = new TcpListener(IPAddress.Any, port);
                    listeners.Add(listener);
                    listener.Start();
                }

                return start;
            }
            catch (SocketException)
            {
                // Taken: try another.
            }
            finally
            {
                listeners.ForEach(listener => listener.Stop());
            }
        }

        throw new InvalidOperationException($"No {count} free consecutive ports from 10000 to {ephemeralStart}.");
    }

    // The first port of the system's ephemeral range (Linux: /proc/sys/net/ipv4/ip_local_port_range; elsewhere IANA's 49152).
    private static int EphemeralRangeStart()
    {
        const string range = "/proc/sys/net/ipv4/ip_local_port_range";
        return File.Exists(range)
            && int.TryParse(File.ReadAllText(range).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], NumberStyles.None,
                CultureInfo.InvariantCulture, out int start) && start > 11000
            ? start
            : 49152;
    }
}
