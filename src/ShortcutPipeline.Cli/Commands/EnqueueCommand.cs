using System.CommandLine;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut enqueue [FILE]`: sends jobs (a JSON job, or an array of them, from a file or standard input) onto the
/// jobs queue (plain text, or base64 with --base64) or to the HTTP endpoint (--via http --url ...). Prints one job id per line.
/// </summary>
public static class EnqueueCommand
{
    public static Command Create()
    {
        var file = new Argument<string?>("file") { Description = "A JSON job or an array of jobs; - or nothing: standard input.", Arity = ArgumentArity.ZeroOrOne };
        var via = new Option<string>("--via") { Description = "queue (the jobs queue) or http (POST /api/jobs).", DefaultValueFactory = _ => "queue" };
        via.AcceptOnlyFromAmong("queue", "http");
        var base64 = new Option<bool>("--base64") { Description = "Put the message on the queue as base64 of the JSON (both forms are accepted)." };
        var url = new Option<string?>("--url") { Description = "The Functions app's base URL (https://<app>.azurewebsites.net) for --via http." };
        var functionKey = new Option<string?>("--function-key") { Description = "The function key for --via http (default: the SHORTCUT_FUNCTION_KEY environment variable)." };
        var connection = new PipelineConnection();
        var command = new Command("enqueue", "Submit generation jobs onto the jobs queue or over HTTP.") { file, via, base64, url, functionKey };
        connection.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            TextWriter output = parse.InvocationConfiguration.Output;
            TextWriter errors = parse.InvocationConfiguration.Error;
            string? path = parse.GetValue(file);
            string text = path is null or "-"
                ? await Console.In.ReadToEndAsync(cancellationToken)
                : await File.ReadAllTextAsync(path, cancellationToken);
            IReadOnlyList<JobMessage> jobs;
            try
            {
                jobs = JobMessages.Read(text);
            }
            catch (FormatException exception)
            {
                await errors.WriteLineAsync($"Nothing was enqueued: {exception.Message}");
                return 1;
            }

            // Intake would reject these; say why now and send nothing, so a file is sent whole or not at all.
            List<(JobMessage Job, int Number)> bad = jobs.Select((job, i) => (job, i + 1)).Where(j => j.job.Problems.Count > 0).ToList();
            if (bad.Count > 0)
            {
                foreach ((JobMessage job, int number) in bad)
                {
                    await errors.WriteLineAsync($"Job {number}{(job.Id is null ? "" : $" ({job.Id})")} breaks the job contract:");
                    foreach (string problem in job.Problems)
                    {
                        await errors.WriteLineAsync("  " + problem);
                    }
                }

                await errors.WriteLineAsync("Nothing was enqueued.");
                return 1;
            }

            bool http = parse.GetValue(via) == "http";
            Uri? baseUrl = null;
            if (http && !(Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out baseUrl) && baseUrl.Scheme is "http" or "https"))
            {
                await errors.WriteLineAsync("--via http needs --url with the Functions app's base URL (http:// or https://). Nothing was enqueued.");
                return 1;
            }

            var results = new List<SubmitResult>();
            if (http)
            {
                using var client = new HttpClient();
                string? key = parse.GetValue(functionKey) ?? Environment.GetEnvironmentVariable("SHORTCUT_FUNCTION_KEY");
                foreach (JobMessage job in jobs)
                {
                    results.Add(await JobSubmitter.PostAsync(client, baseUrl!, key, job, cancellationToken));
                }
            }
            else
            {
                PipelineStorage storage = connection.Open(parse);
                foreach (JobMessage job in jobs)
                {
                    results.Add(await JobSubmitter.EnqueueAsync(storage.JobsQueue, job, parse.GetValue(base64), cancellationToken));
                }
            }

            foreach (SubmitResult result in results)
            {
                await output.WriteLineAsync(result.JobId);
                await errors.WriteLineAsync($"{result.JobId}: {(result.Accepted ? "sent" : "REJECTED")} ({result.Detail})");
            }

            return results.All(r => r.Accepted) ? 0 : 1;
        });
        return command;
    }
}
