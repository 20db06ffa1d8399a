namespace ShortcutPipeline.Worker;

/// <summary>
/// A wake-up call between the worker's loops: <see cref="Set"/> ends the current or the next <see cref="WaitAsync"/>
/// (a set before the wait is not lost); each wait consumes it. Thread-safe.
/// </summary>
internal sealed class AsyncSignal(TimeProvider time)
{
    private TaskCompletionSource current = New();

    /// <summary>Wakes the waiter.</summary>
    public void Set() => Volatile.Read(ref current).TrySetResult();

    /// <summary>Waits until <see cref="Set"/> or at most <paramref name="timeout"/> (on the signal's clock).</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource signal = Volatile.Read(ref current);
        if (!signal.Task.IsCompleted && timeout > TimeSpan.Zero)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(signal.Task, Task.Delay(timeout, time, timer.Token)).ConfigureAwait(false);
            await timer.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (signal.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref current, New(), signal);
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
