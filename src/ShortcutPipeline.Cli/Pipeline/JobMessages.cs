using System.Text;
using System.Text.Json;
using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Cli.Pipeline;

/// <summary>One job message read from a file or standard input, with what the contract says about it.</summary>
/// <param name="Text">The job's JSON text, as it will be sent.</param>
/// <param name="Id">The job's own id, or null when it has none (then intake derives one).</param>
/// <param name="Problems">Contract violations found without storage (the model's existence is checked at intake).</param>
/// <param name="ContentHash">The job's content hash (<see cref="JobReadResult.ContentHash"/>), from which intake may derive its id.</param>
public sealed record JobMessage(string Text, string? Id, IReadOnlyList<string> Problems, string ContentHash);

/// <summary>Reads the jobs of a file: one JSON job object, or a JSON array of them.</summary>
public static class JobMessages
{
    private static readonly GenerationJobReader Reader = new(new GenerationJobLimits());

    /// <summary>The jobs in <paramref name="text"/>, each checked against the job contract.</summary>
    /// <exception cref="FormatException">The text is not JSON, or not an object or an array of objects.</exception>
    public static IReadOnlyList<JobMessage> Read(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException exception)
        {
            throw new FormatException($"The input is not JSON: {exception.Message}", exception);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            IReadOnlyList<string> texts = root.ValueKind switch
            {
                JsonValueKind.Object => [text.Trim()],
                JsonValueKind.Array when root.GetArrayLength() > 0 && root.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Object) =>
                    root.EnumerateArray().Select(e => e.GetRawText()).ToList(),
                _ => throw new FormatException("The input must be a job (a JSON object) or a non-empty JSON array of jobs."),
            };
            return texts.Select(Check).ToList();
        }
    }

    /// <summary>The id intake gives <paramref name="job"/> when it arrives as queue message <paramref name="messageId"/>.</summary>
    public static string IdOnQueue(JobMessage job, string messageId)
    {
        ArgumentNullException.ThrowIfNull(job);
        return job.Id ?? GenerationJobReader.DeriveJobId(messageId, job.ContentHash);
    }

    /// <summary>Base64 of the UTF-8 text (the other queue message form intake accepts).</summary>
    public static string ToBase64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static JobMessage Check(string text)
    {
        JobReadResult read = Reader.Read(text);
        return new JobMessage(text, read.IdFromClient ? read.JobId : null, read.Reasons, read.ContentHash);
    }
}
