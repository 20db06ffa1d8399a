using System.Net.Sockets;
using Azure;

namespace ShortcutPipeline.Core.Storage;

/// <summary>Tells a storage failure that may pass (the account unreachable, busy or failing for a while) from one that will not.</summary>
public static class StorageFailures
{
    /// <summary>
    /// True for a failure that trying again later may cure: no answer at all (a refused or reset connection, a timeout,
    /// the SDK's retries given up on those), or an answer that says so (408, 429, 5xx).
    /// </summary>
    public static bool MayPass(Exception exception) => exception switch
    {
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(MayPass),
        RequestFailedException failed => failed.Status is 0 or 408 or 429 or >= 500,
        HttpRequestException or IOException or SocketException or TimeoutException or TaskCanceledException => true,
        _ => false,
    };

    /// <summary>The first message of <paramref name="exception"/> that says what went wrong (the first inner one of an aggregate).</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? Describe(aggregate.InnerExceptions[0]) : exception.Message;
    }
}
