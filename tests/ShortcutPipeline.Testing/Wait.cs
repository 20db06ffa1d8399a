using System.Text;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Testing;

/// <summary>Bounded waits, so that a broken worker, trainer or receiver fails a test instead of hanging it.</summary>
public static class Wait
{
    /// <summary>The wait for work that runs a model: long enough for a slow, shared CPU.</summary>
    public static readonly TimeSpan Long = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Polls <paramref name="condition"/> every 100 ms until it holds. A condition may itself throw (an assertion that
    /// the process under test is still alive) to end the wait early.
    /// </summary>
    /// <exception cref="TimeoutException">It did not hold within <paramref name="timeout"/>; the message ends with <paramref name="describe"/>'s text.</exception>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<Task<string>> describe)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(describe);
        DateTime end = DateTime.UtcNow + timeout;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"Not reached within {timeout}: {await describe().ConfigureAwait(false)}");
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <inheritdoc cref="UntilAsync(Func{Task{bool}}, TimeSpan, Func{Task{string}})"/>
    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, () => Task.FromResult(describe()));

    /// <summary>Waits until every job is in a terminal state and returns their statuses.</summary>
    public static async Task<IReadOnlyList<JobStatus>> ForJobsAsync(TestPipeline pipeline, IReadOnlyCollection<string> jobIds, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(jobIds);
        string[] ids = [.. jobIds];
        var statuses = new JobStatus?[ids.Length];
        await UntilAsync(
            async () =>
            {
                await pipeline.Status.RefreshAsync(ids, statuses).ConfigureAwait(false);
                return statuses.All(s => s is not null && s.State.IsTerminal());
            },
            timeout ?? Long,
            () => Task.FromResult(Describe(ids, statuses))).ConfigureAwait(false);
        return statuses!;
    }

    private static string Describe(IReadOnlyCollection<string> jobIds, JobStatus?[] statuses)
    {
        var text = new StringBuilder();
        foreach ((string id, JobStatus? status) in jobIds.Zip(statuses))
        {
            text.Append(status is null ? $"{id}: (no status); " : $"{id}: {status.State} {status.DoneImages}/{status.TotalImages} {status.Error}; ");
        }

        return text.ToString();
    }
}
