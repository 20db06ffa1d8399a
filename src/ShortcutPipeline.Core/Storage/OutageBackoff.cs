using System.Net.Sockets;
using Azure;
using Microsoft.Extensions.Logging;

// Riding out storage outages: which failures may pass (StorageFailures) and how a loop waits them out (OutageBackoff).

namespace ShortcutPipeline.Core.Storage;

/// <summary>
/// How a long-running loop rides out a storage outage of any length: after each failed round it waits, from an
/// initial delay doubling up to a longest one, and tries again, for as long as it takes. A failure that may pass
/// (<see cref="StorageFailures.MayPass"/>) is an outage: its first failure is logged once, as a warning with the error,
/// the ones after it only at debug level, and the first success after it as information, with how long it lasted.
/// Any other failure is logged as an error each time (with the same waits between them). Thread-safe: several tasks
/// of one stage may share one, and then an outage is logged once for all of them.
/// </summary>
public sealed class OutageBackoff
{
    /// <summary>The longest wait unless a caller chooses another (30 s).</summary>
    public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromSeconds(30);

    private readonly string loop;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly TimeSpan initialDelay;
    private readonly TimeSpan maxDelay;
    private readonly object gate = new();
    private TimeSpan nextDelay;
    private long outageStarted;
    private int failures;

    /// <summary>The backoff of the loop named <paramref name="loop"/> ("The intake loop", ...), logging to <paramref name="logger"/>.</summary>
    public OutageBackoff(string loop, ILogger logger, TimeProvider? time = null, TimeSpan? initialDelay = null, TimeSpan? maxDelay = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(loop);
        this.loop = loop;
        this.logger = logger ?? throw new ArgumentNullException(nameof(logger));
        this.time = time ?? TimeProvider.System;
        this.maxDelay = maxDelay ?? DefaultMaxDelay;
        this.initialDelay = TimeSpan.FromTicks(Math.Clamp((initialDelay ?? TimeSpan.FromSeconds(1)).Ticks, TimeSpan.FromMilliseconds(10).Ticks, this.maxDelay.Ticks));
        nextDelay = this.initialDelay;
    }

    /// <summary>True from the first failure of an outage until the next success.</summary>
    public bool InOutage { get; private set; }

    /// <summary>How many outages began so far.</summary>
    public int Outages { get; private set; }

    /// <summary>How many rounds failed in a row (0 after a success).</summary>
    public int Failures => Volatile.Read(ref failures);

    /// <summary>Logs <paramref name="error"/> as described above and waits before the next round.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled during the wait.</exception>
    public async Task WaitAfterFailureAsync(Exception error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(error);
        TimeSpan delay;
        bool mayPass = StorageFailures.MayPass(error), outageBegins = false;
        lock (gate)
        {
            failures++;
            delay = nextDelay;
            nextDelay = TimeSpan.FromTicks(Math.Min(nextDelay.Ticks * 2, maxDelay.Ticks));
            if (mayPass && !InOutage)
            {
                InOutage = outageBegins = true;
                Outages++;
                outageStarted = time.GetTimestamp();
            }
        }

        if (!mayPass)
        {
            logger.LogError(error, "{Loop}: a round failed; trying again in {Delay}.", loop, delay);
        }
        else if (outageBegins)
        {
            logger.LogWarning(error, "{Loop}: storage is unreachable ({Error}); trying again, waiting {Delay} and up to {MaxDelay} between tries, until it is back.",
                loop, StorageFailures.Describe(error), delay, maxDelay);
        }
        else
        {
            logger.LogDebug("{Loop}: storage is still unreachable ({Error}); trying again in {Delay}.", loop, StorageFailures.Describe(error), delay);
        }

        await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records a round that worked: ends an outage (logging it) and resets the waits.</summary>
    public void Succeeded()
    {
        bool outageEnds;
        int failed;
        TimeSpan lasted;
        lock (gate)
        {
            outageEnds = InOutage;
            failed = failures;
            lasted = outageEnds ? time.GetElapsedTime(outageStarted) : TimeSpan.Zero;
            InOutage = false;
            failures = 0;
            nextDelay = initialDelay;
        }

        if (outageEnds)
        {
            logger.LogInformation("{Loop}: storage is reachable again after {Duration} ({Failures} failed tries).", loop, lasted, failed);
        }
    }
}

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
