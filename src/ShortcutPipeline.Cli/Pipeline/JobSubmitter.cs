using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace ShortcutPipeline.Cli.Pipeline;

/// <summary>What happened to one submitted job.</summary>
/// <param name="JobId">Its id (its own, or the one intake derives from the queue message id).</param>
/// <param name="Accepted">False when the HTTP endpoint rejected it.</param>
/// <param name="Detail">The queue message id, or the HTTP status and answer.</param>
public sealed record SubmitResult(string JobId, bool Accepted, string Detail);

/// <summary>Sends jobs to the pipeline: onto the jobs queue (plain text or base64), or to the HTTP endpoint.</summary>
public static class JobSubmitter
{
    /// <summary>Puts <paramref name="job"/> on the jobs queue, as its JSON text or as base64 of it.</summary>
    public static async Task<SubmitResult> EnqueueAsync(QueueClient jobsQueue, JobMessage job, bool base64, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobsQueue);
        ArgumentNullException.ThrowIfNull(job);
        Response<SendReceipt> receipt = await jobsQueue.SendMessageAsync(base64 ? JobMessages.ToBase64(job.Text) : job.Text, cancellationToken)
            .ConfigureAwait(false);
        string id = JobMessages.IdOnQueue(job, receipt.Value.MessageId);
        return new SubmitResult(id, true, "queue message " + receipt.Value.MessageId);
    }

    /// <summary>
    /// POSTs <paramref name="job"/> to <c>{baseUrl}/api/jobs</c> (or to <paramref name="baseUrl"/> itself when it ends in
    /// /api/jobs), with the function key in x-functions-key when given.
    /// </summary>
    public static async Task<SubmitResult> PostAsync(
        HttpClient http, Uri baseUrl, string? functionKey, JobMessage job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentNullException.ThrowIfNull(job);
        string url = baseUrl.AbsoluteUri.TrimEnd('/');
        var endpoint = new Uri(url.EndsWith("/api/jobs", StringComparison.OrdinalIgnoreCase) ? url : url + "/api/jobs");
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(job.Text, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        if (!string.IsNullOrEmpty(functionKey))
        {
            request.Headers.Add("x-functions-key", functionKey);
        }

        using HttpResponseMessage response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        string id = job.Id ?? "?";
        try
        {
            using JsonDocument answer = JsonDocument.Parse(body);
            if (answer.RootElement.ValueKind == JsonValueKind.Object && answer.RootElement.TryGetProperty("jobId", out JsonElement jobId)
                && jobId.ValueKind == JsonValueKind.String)
            {
                id = jobId.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's error page, say): the body is shown as it is.
        }

        return new SubmitResult(id, response.IsSuccessStatusCode, $"HTTP {(int)response.StatusCode} {body}");
    }
}
