using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ShortcutPipeline.Testing;

/// <summary>One HTTP request a <see cref="CallbackReceiver"/> read.</summary>
/// <param name="Method">The method.</param>
/// <param name="Target">The request target (path and query).</param>
/// <param name="Headers">The headers (names in any case).</param>
/// <param name="Body">The body's bytes.</param>
public sealed record ReceivedRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>What a <see cref="CallbackReceiver"/> answers.</summary>
/// <param name="Status">The status code.</param>
/// <param name="Body">The body (UTF-8).</param>
/// <param name="Headers">Extra headers, such as Location.</param>
public sealed record CallbackAnswer(int Status, string Body = "", IReadOnlyDictionary<string, string>? Headers = null);

/// <summary>
/// A plain HTTP/1.1 server on a real socket that listens on every loopback address at once (IPv6 <c>[::]</c> in dual
/// mode: 127.0.0.1, ::1, ::ffff:127.0.0.1 and 0.0.0.0 all reach it) and counts every connection, so that a test can
/// prove that a client never connected to it. Each connection carries one request and gets <see cref="Answer"/>.
/// </summary>
public sealed class CallbackReceiver : IDisposable
{
    private readonly ConcurrentQueue<ReceivedRequest> requests = new();
    private readonly AcceptLoop loop;
    private int connections;

    /// <summary>Starts listening on a free port.</summary>
    public CallbackReceiver()
    {
        var listener = new TcpListener(IPAddress.IPv6Any, 0);
        listener.Server.DualMode = true;
        loop = new AcceptLoop(listener, socket =>
        {
            Interlocked.Increment(ref connections);
            _ = ServeAsync(socket);
        });
    }

    /// <summary>The port.</summary>
    public int Port => loop.Port;

    /// <summary>What every request gets (by default 204 No Content).</summary>
    public Func<ReceivedRequest, CallbackAnswer> Answer { get; set; } = _ => new CallbackAnswer(204);

    /// <summary>How many connections were accepted, whether or not a request came over them.</summary>
    public int Connections => Volatile.Read(ref connections);

    /// <summary>The requests read so far, oldest first.</summary>
    public IReadOnlyList<ReceivedRequest> Requests => requests.ToArray();

    /// <summary>An http URL of this receiver with <paramref name="host"/> (a name, or an address as a URL writes it) and <paramref name="path"/>.</summary>
    public Uri Url(string host, string path = "/hook") => new(string.Create(CultureInfo.InvariantCulture, $"http://{host}:{Port}{path}"));

    /// <summary>Stops listening.</summary>
    public void Dispose() => loop.Dispose();

    private async Task ServeAsync(Socket socket)
    {
        using (var stream = new NetworkStream(socket, ownsSocket: true))
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(loop.Stopping);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                ReceivedRequest? request = await ReadRequestAsync(stream, timeout.Token).ConfigureAwait(false);
                if (request is null)
                {
                    return;
                }

                requests.Enqueue(request);
                await WriteAnswerAsync(stream, Answer(request), timeout.Token).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away, or the receiver stopped.
            }
        }
    }

    private static async Task<ReceivedRequest?> ReadRequestAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 0 || head.Count > 64 * 1024)
            {
                return null;
            }

            head.Add(one[0]);
        }

        string[] lines = Encoding.ASCII.GetString([.. head]).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        string[] requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        byte[] body = new byte[headers.TryGetValue("Content-Length", out string? length) ? int.Parse(length, CultureInfo.InvariantCulture) : 0];
        await stream.ReadExactlyAsync(body, cancellationToken).ConfigureAwait(false);
        return new ReceivedRequest(requestLine[0], requestLine[1], headers, body);
    }

    private static async Task WriteAnswerAsync(NetworkStream stream, CallbackAnswer answer, CancellationToken cancellationToken)
    {
        byte[] body = Encoding.UTF8.GetBytes(answer.Body);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {answer.Status} Status\r\nContent-Length: {body.Length}\r\nConnection: close\r\n");
        foreach ((string name, string value) in answer.Headers ?? new Dictionary<string, string>())
        {
            text.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        text.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()), cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }
}
