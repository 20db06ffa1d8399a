using System.CommandLine;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut wait JOBID...`: waits until the jobs are finished, with a progress bar over their images; prints each
/// job's final state. Exit code 0 when all completed, 1 when one did not, 2 on timeout.
/// </summary>
public static class WaitCommand
{
    public static Command Create()
    {
        var jobIds = new Argument<string[]>("job-ids") { Description = "The jobs to wait for.", Arity = ArgumentArity.OneOrMore };
        var timeout = new Option<TimeSpan?>("--timeout") { Description = "Give up after this long (hh:mm:ss); default: wait as long as it takes." };
        var connection = new PipelineConnection();
        var command = new Command("wait", "Wait until jobs are finished, showing progress.") { jobIds, timeout };
        connection.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var status = new JobStatusService(connection.Open(parse));
            IReadOnlyList<JobStatus> finished;
            try
            {
                finished = await WaitWithProgressAsync(status, parse.GetValue(jobIds)!, parse.GetValue(timeout), cancellationToken);
            }
            catch (TimeoutException exception)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync(exception.Message);
                return ShortcutCli.ExitCodes.Timeout;
            }

            await PrintAsync(parse.InvocationConfiguration.Output, finished);
            return finished.All(s => s.State == JobState.Completed) ? 0 : 1;
        });
        return command;
    }

    /// <summary>Waits for the jobs with a progress bar on standard error (images done of all, jobs finished).</summary>
    public static async Task<IReadOnlyList<JobStatus>> WaitWithProgressAsync(
        JobStatusService status, IReadOnlyList<string> jobIds, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        ConsoleProgress? bar = null;
        try
        {
            return await JobWaiter.WaitAsync(status, jobIds, timeout, (done, total, finished) =>
            {
                bar ??= total > 0 ? new ConsoleProgress("images", total) : null;
                bar?.Report(done, $"{finished}/{jobIds.Count} jobs finished");
            }, TimeSpan.FromMilliseconds(500), cancellationToken);
        }
        finally
        {
            bar?.Dispose();
        }
    }

    /// <summary>One line per job: id, state, images, error.</summary>
    public static async Task PrintAsync(TextWriter output, IEnumerable<JobStatus> statuses)
    {
        foreach (JobStatus job in statuses)
        {
            await output.WriteLineAsync($"{job.Id}: {job.State.ToString().ToLowerInvariant()}, {job.DoneImages}/{job.TotalImages} images" +
                (job.Error is null ? "" : $", {job.Error}") + (job.Reasons.Count == 0 ? "" : ": " + string.Join(" ", job.Reasons)));
        }
    }
}
