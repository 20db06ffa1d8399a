using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;

namespace ShortcutPipeline.Testing;

/// <summary>
/// A stand-in for Application Insights' ingestion endpoint on a loopback port (real HTTP): it accepts what the Azure Monitor
/// exporter sends (gzip or plain) and keeps the bodies. <see cref="ConnectionString"/> points an exporter at it.
/// </summary>
public sealed class FakeIngestion : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly List<string> bodies = [];
    private readonly Task serving;

    /// <summary>Starts listening on a free loopback port.</summary>
    public FakeIngestion()
    {
        int port = LoopbackPorts.Free();
        string endpoint = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/");
        listener.Prefixes.Add(endpoint);
        listener.Start();
        ConnectionString = $"InstrumentationKey={Guid.NewGuid()};IngestionEndpoint={endpoint};LiveEndpoint={endpoint}";
        serving = Task.Run(ServeAsync);
    }

    /// <summary>An Application Insights connection string whose ingestion (and live metrics) endpoint is this listener.</summary>
    public string ConnectionString { get; }

    /// <summary>The bodies of the telemetry posts received so far (newline-delimited JSON items).</summary>
    public IReadOnlyList<string> Telemetry
    {
        get
        {
            lock (bodies)
            {
                return [.. bodies];
            }
        }
    }

    /// <summary>Stops listening.</summary>
    public void Dispose()
    {
        listener.Close();
        try
        {
            serving.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // The listener's close ends the loop with an exception.
        }
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            int items = 0;
            if (context.Request.Url!.AbsolutePath.EndsWith("/track", StringComparison.Ordinal))
            {
                string body = await ReadBodyAsync(context.Request);
                items = body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
                lock (bodies)
                {
                    bodies.Add(body);
                }
            }

            byte[] answer = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $$"""{"itemsReceived":{{items}},"itemsAccepted":{{items}},"errors":[]}"""));
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(answer);
            context.Response.Close();
        }
    }

    private static async Task<string> ReadBodyAsync(HttpListenerRequest request)
    {
        Stream body = request.Headers["Content-Encoding"] == "gzip"
            ? new GZipStream(request.InputStream, CompressionMode.Decompress)
            : request.InputStream;
        await using (body)
        {
            using var reader = new StreamReader(body, Encoding.UTF8);
            return await reader.ReadToEndAsync();
        }
    }
}
