using System.CommandLine;
using ShortcutPipeline.Cli.Pipeline;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>`shortcut download JOBID --out DIR`: the job's PNGs into DIR/JOBID/{index}.png, and DIR/JOBID/contact-sheet.png.</summary>
public static class DownloadCommand
{
    public static Command Create()
    {
        var jobIds = new Argument<string[]>("job-ids") { Description = "The jobs whose images to download.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "Folder to write into (one sub-folder per job).", Required = true };
        var connection = new PipelineConnection();
        var command = new Command("download", "Download a job's images and a contact sheet of them.") { jobIds, output };
        connection.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var storage = connection.Open(parse);
            int missing = 0;
            foreach (string jobId in parse.GetValue(jobIds)!)
            {
                JobDownload download = await JobDownloader.DownloadAsync(storage, jobId, parse.GetValue(output)!, cancellationToken);
                if (download.Images.Count == 0)
                {
                    missing++;
                    await parse.InvocationConfiguration.Error.WriteLineAsync($"{jobId}: no images (yet).");
                    continue;
                }

                await parse.InvocationConfiguration.Output.WriteLineAsync(
                    $"{jobId}: {download.Images.Count} images in {download.Folder}, contact sheet {download.ContactSheet}");
            }

            return missing == 0 ? 0 : 1;
        });
        return command;
    }
}
