using Microsoft.Extensions.Logging;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// Runs <c>renew</c> every <c>period</c> in the background until disposed (training blocks its own thread, so the
/// lease, the queue message and the progress record are kept up from here). A failed renewal is handed to
/// <c>onFailure</c>; renewals go on unless it returns false.
/// </summary>
internal sealed class PeriodicRenewal : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    public PeriodicRenewal(TimeSpan period, Func<CancellationToken, Task> renew, Func<Exception, bool> onFailure)
    {
        loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(period);
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
                {
                    try
                    {
                        await renew(stop.Token).ConfigureAwait(false);
                    }
                    catch (Exception exception) when (exception is not OperationCanceledException || !stop.IsCancellationRequested)
                    {
                        if (!onFailure(exception))
                        {
                            return;
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Disposed.
            }
        });
    }

    /// <summary>A failure handler that logs the failure and keeps renewing.</summary>
    public static Func<Exception, bool> LogAndContinue(ILogger logger, string what) => exception =>
    {
        logger.LogWarning(exception, "Could not {What}; trying again at the next renewal.", what);
        return true;
    };

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(false);
        stop.Dispose();
    }
}
