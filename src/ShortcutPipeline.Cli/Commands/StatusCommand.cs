using System.CommandLine;
using System.Text.Json;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>`shortcut status JOBID`: a job's status as JSON (state, progress, image links, reasons, error).</summary>
public static class StatusCommand
{
    private static readonly JsonSerializerOptions Indented = new(PipelineJson.Options) { WriteIndented = true };

    public static Command Create()
    {
        var jobId = new Argument<string>("job-id") { Description = "The job's id." };
        var connection = new PipelineConnection();
        var command = new Command("status", "Show a job's status.") { jobId };
        connection.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var status = new JobStatusService(connection.Open(parse));
            JobStatus? job = await status.GetAsync(parse.GetValue(jobId)!, cancellationToken);
            if (job is null)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"No job has the id \"{parse.GetValue(jobId)}\".");
                return 1;
            }

            await parse.InvocationConfiguration.Output.WriteLineAsync(JsonSerializer.Serialize(job, Indented));
            return 0;
        });
        return command;
    }
}
