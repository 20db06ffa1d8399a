using System.Net.Sockets;

namespace ShortcutPipeline.Testing;

/// <summary>Accepts the connections of a listener and hands each to a callback, until disposed: the servers of the tests share it.</summary>
internal sealed class AcceptLoop : IDisposable
{
    private readonly TcpListener listener;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task accepting;

    /// <summary>Starts <paramref name="listener"/>; <paramref name="accepted"/> gets each connection (and must not block).</summary>
    public AcceptLoop(TcpListener listener, Action<Socket> accepted)
    {
        this.listener = listener;
        listener.Start();
        Port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        accepting = AcceptAsync(accepted);
    }

    /// <summary>The port it listens on.</summary>
    public int Port { get; }

    /// <summary>Cancelled when the loop stops.</summary>
    public CancellationToken Stopping => stopping.Token;

    /// <summary>Stops listening (connections handed out are the callback's to close).</summary>
    public void Dispose()
    {
        stopping.Cancel();
        listener.Stop();
        try
        {
            accepting.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // Stopped while accepting.
        }

        stopping.Dispose();
    }

    private async Task AcceptAsync(Action<Socket> accepted)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            accepted(socket);
        }
    }
}
