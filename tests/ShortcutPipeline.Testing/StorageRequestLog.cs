using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using Azure.Core.Diagnostics;

namespace ShortcutPipeline.Testing;

/// <summary>
/// The storage requests this process sends whose address contains a given text (for example one job's partition key),
/// in the order sent, as the Azure SDK's own event source reports them. The event source is process-wide; the text keeps
/// the requests of tests running beside it out.
/// </summary>
public sealed class StorageRequestLog : IDisposable
{
    private readonly ConcurrentQueue<string> methods = new();
    private readonly string addressContains;
    private readonly AzureEventSourceListener listener;

    private StorageRequestLog(string addressContains)
    {
        this.addressContains = addressContains;
        listener = new AzureEventSourceListener(OnEvent, EventLevel.Informational);
    }

    /// <summary>The HTTP methods of the requests logged so far, in order.</summary>
    public IReadOnlyList<string> Methods => [.. methods];

    /// <summary>Starts logging the requests whose address contains <paramref name="addressContains"/>.</summary>
    public static StorageRequestLog Start(string addressContains)
    {
        ArgumentException.ThrowIfNullOrEmpty(addressContains);
        return new StorageRequestLog(addressContains);
    }

    /// <summary>Stops logging.</summary>
    public void Dispose() => listener.Dispose();

    private void OnEvent(EventWrittenEventArgs e, string message)
    {
        if (e.EventName != "Request" || e.PayloadNames is not { } names || e.Payload is not { } payload)
        {
            return;
        }

        string? Field(string name) => names.IndexOf(name) is int i and >= 0 ? payload[i] as string : null;
        if (Field("uri") is string uri && Uri.UnescapeDataString(uri).Contains(addressContains, StringComparison.Ordinal)
            && Field("method") is string method)
        {
            methods.Enqueue(method);
        }
    }
}
